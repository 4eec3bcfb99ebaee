// Data-parallel equivalence through `vlm train`, every stage: one process with a global batch of
// 2B and two processes (Gloo on 127.0.0.1, launched as torchrun does) with B each must take the
// same optimizer steps: every checkpointed parameter agrees within a stated tolerance (below).
//
// What makes the two runs the same computation (fp32, deterministic, dropout 0, no augmentation):
// - data: rank r takes positions r, r + 2, ... of each epoch's permutation (DistributedSampler's
//   order), so step k's two local batches together are exactly the samples of the one-process
//   batch k, even positions on rank 0 and odd ones on rank 1 (Loader.RankBatchesTogetherAreThe-
//   SingleProcessBatch). Every loss below is a sum or mean over samples (or tokens), whose value
//   does not depend on that order.
// - stage 1: the contrastive loss scores each rank's rows against the embeddings gathered from
//   both ranks (with gradients), and gradients are averaged over ranks; the ITG caption loss is
//   divided by the supervised tokens of both ranks; the hard negative captions are a function
//   of (caption, step); ITM's hard negatives are drawn by noise keyed by the ids of the samples
//   that meet, not by their order or rank, and a trained ViT gets every rank's ITM gradient.
// - stage 2: the caption loss is divided by the supervised tokens of every micro-batch of both
//   ranks (grad_accum 2 here), the gradients summed over ranks.
// - stage lm: every rank draws the rows of the whole global batch from one seeded stream and
//   keeps its share of each micro-batch; the loss is normalised as in stage 2.
// - the initial weights: each rank seeds with seed + rank, and rank 0's weights are broadcast.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "eval/run_files.h"
#include "io/tensor_store.h"
#include "launch_ranks.h"
#include "test_util.h"
#include "train/demo_data.h"
#include "train/distributed.h"

namespace fs = std::filesystem;

namespace {

// The two runs add the same fp32 terms in another order (each rank's rows apart, then the
// all-reduce of two partial gradients, against one pass over the whole batch), so gradients
// differ by a few ulps, and logged losses and gradient norms by ~1e-7 relative. Adam then
// updates each parameter by about lr * g / (|g| + 1e-8): a small relative error in a large
// gradient stays small, but stage 1 has gradients that nearly cancel over the batch (query
// tokens, the cross-attention's value and output biases, LayerNorm biases: what shifts every
// image embedding alike, whose contrastive gradient sums (softmax column sum - 1) terms, near
// zero while the embeddings are still alike), and there rounding is a larger share of g.
// Measured max |difference| (lr 1e-3, the first update at step 2 after a warmup step at lr 0):
// stage 1 1.2e-5 in crossattention.v_lin.bias (9.2e-6 after the first update, then flat, where
// a real mismatch would add about lr every step), stage 2 6.0e-8 (one ulp of a LayerNorm
// weight near 1). Without the gradient all-reduce, or without rank 0's initial weights
// broadcast, parameters are 2e-3 (stage 1) and 4e-3 (stage 2) apart after the first update.
constexpr double kStage1Tolerance = 5e-5;
constexpr double kStage2Tolerance = 3e-7;
// Relative, on the logged train/loss and train/grad_norm of every step. Adam is blind to a
// gradient scaled by a constant (a mean taken where a sum belongs): the norm is not.
constexpr double kLogTolerance = 1e-5;
constexpr int kLocalBatch = 4;  // per rank; one process takes 2 x this

struct Runs {
  std::string single, parallel;  // run directories
};

class DataParallel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!vlm::train::data_parallel_available()) GTEST_SKIP() << "this build has no c10d backend (no Gloo headers)";
    vlm::train::DemoDataOptions o;
    o.out_dir = dir_.path();
    o.image_size = 32;
    o.n_train = 48;  // ~43 training samples: 5 steps of 8 per epoch, so the runs cross an epoch
    o.n_eval = 4;
    o.n_heldout = 4;
    data_ = vlm::train::make_demo_data(o);
  }

  std::string write(const std::string& name, const std::string& yaml) const {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << yaml;
    return path;
  }

  std::string common_yaml() const {
    return "run: {out_dir: " + dir_.path() + "/runs, seed: 3, deterministic: true, threads: 1}\n" +
           "vision: {image_size: 32, patch_size: 8, hidden_size: 32, num_hidden_layers: 1,"
           " num_attention_heads: 2, intermediate_size: 64, train: true}\n" +
           "qformer: {tokenizer: " + data_.tokenizer_dir +
           ", num_query_tokens: 4, embed_dim: 16, hidden_size: 32, num_hidden_layers: 1,"
           " num_attention_heads: 2, intermediate_size: 64}\n" +
           "data: {path: " + data_.train_dir + ", val_fraction: 0.1, workers: 1, augment: false, vqa_ratio: 0.3}\n";
  }

  // Trains `config` as one process with batch 2B (run "single") and as two ranks with B each
  // (run "parallel").
  Runs train_both(const std::string& config) const {
    const std::string batch = "train.batch_size=" + std::to_string(kLocalBatch);
    const auto one = vlm::test::run_vlm("train --config " + config + " --set run.name=single --set train.batch_size=" +
                                        std::to_string(2 * kLocalBatch));
    EXPECT_EQ(one.status, 0) << one.output;
    const auto ranks = vlm::test::launch_ranks(
        VLM_BINARY, {"train", "--config", config, "--set", "run.name=parallel", "--set", batch}, /*world=*/2,
        dir_.path() + "/parallel-");
    for (size_t r = 0; r < ranks.size(); ++r) EXPECT_EQ(ranks[r].status, 0) << "rank " << r << ":\n" << ranks[r].log;
    return {dir_.path() + "/runs/single", dir_.path() + "/runs/parallel"};
  }

  // A stage-lm config for a 1-layer LM on the test data; the arguments add to its sections.
  std::string lm_stage_yaml(const std::string& run, const std::string& train, const std::string& schedule) const {
    return "run: {out_dir: " + dir_.path() + "/runs, threads: 1, " + run + "}\n" + "lm: {path: " +
           data_.tokenizer_dir +
           ", hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2,"
           " num_key_value_heads: 1, intermediate_size: 64}\n" +
           "data: {path: " + data_.train_dir + ", val_fraction: 0.1, workers: 1}\n" +
           "train: {stage: lm, warmup_steps: 1, precision: fp32, " + train + "}\n" + "schedule: {" + schedule + "}\n";
  }

  // Stage 2 needs an LM folder: a tiny one pretrained for two steps by `vlm train` stage lm.
  // Returns its export folder, or "" (and a test failure) when training it failed.
  std::string tiny_lm() const {
    const std::string config = write(
        "lm.yaml", lm_stage_yaml("name: lm, seed: 1", "steps: 2, batch_size: 8",
                                 "eval_every: 0, eval_batches: 1, save_every: 0"));
    const auto lm = vlm::test::run_vlm("train --config " + config);
    EXPECT_EQ(lm.status, 0) << lm.output;
    return lm.status == 0 ? dir_.path() + "/runs/lm/export" : "";
  }

  // A stage-2 config on `lm` with LoRA r 4 and `lora_dropout`; `train` adds to the train section.
  std::string stage2_config(const std::string& name, const std::string& lm, const std::string& lora_dropout,
                            const std::string& train) const {
    return write(name, common_yaml() + "lm: {path: " + lm + ", lora: {r: 4, alpha: 8, dropout: " + lora_dropout +
                           "}}\n" + "train: {stage: stage2, " + train +
                           ", lr: 1.0e-3, lr_head: 2.0e-3, warmup_steps: 1, precision: fp32}\n" +
                           "schedule: {log_every: 1, eval_every: 0, eval_batches: 1, save_every: 1,"
                           " keep_checkpoints: 10, sample_captions: 0}\n"
                           "prompt: {max_target_tokens: 16}\n");
  }

  vlm::test::TempDir dir_;
  vlm::train::DemoData data_;
};

struct ParamDiff {
  double max_abs = 0;
  std::string name;   // the tensor where it is largest
  size_t tensors = 0;
};

// Max |a - b| over the trainable tensors of two checkpoints; their names must agree.
ParamDiff param_diff(const std::string& a_dir, const std::string& b_dir) {
  const auto a = vlm::io::TensorStore::open(a_dir + "/model.safetensors");
  const auto b = vlm::io::TensorStore::open(b_dir + "/model.safetensors");
  EXPECT_EQ(a.names(), b.names());
  ParamDiff d;
  for (const auto& name : a.names()) {
    if (!b.contains(name)) continue;
    const double m = (a.get(name).to(at::kDouble) - b.get(name).to(at::kDouble)).abs().max().item<double>();
    if (m >= d.max_abs) d = {m, name, d.tensors};
    ++d.tensors;
  }
  return d;
}

// The logged values of `key` ("train/loss", "train/grad_norm"), one per step.
std::vector<double> logged(const std::string& run_dir, const std::string& key) {
  std::vector<double> out;
  for (const auto& row : vlm::eval::run_files::read_metrics(run_dir + "/metrics.jsonl")) {
    if (row.values.count(key)) out.push_back(row.values.at(key));
  }
  return out;
}

std::string step_dir(const std::string& run, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "step-%07lld", static_cast<long long>(step));
  return run + "/checkpoints/" + name;
}

// Every step's checkpoint, logged loss and gradient norm agree; the parameters moved far more
// than the tolerance, so agreement is not the trivial kind.
void expect_same_steps(const Runs& runs, int64_t steps, double tolerance) {
  for (const std::string key : {"train/loss", "train/grad_norm"}) {
    const auto single = logged(runs.single, key), parallel = logged(runs.parallel, key);
    ASSERT_EQ(single.size(), static_cast<size_t>(steps)) << key;
    ASSERT_EQ(parallel.size(), static_cast<size_t>(steps)) << key;
    for (size_t i = 0; i < single.size(); ++i) {
      EXPECT_NEAR(parallel[i], single[i], kLogTolerance * std::abs(single[i])) << key << " at step " << i + 1;
    }
  }
  for (int64_t s = 1; s <= steps; ++s) {
    const ParamDiff d = param_diff(step_dir(runs.single, s), step_dir(runs.parallel, s));
    std::printf("step %lld: max |parameter difference| %.3g in %s (%zu tensors)\n", static_cast<long long>(s),
                d.max_abs, d.name.c_str(), d.tensors);
    EXPECT_GT(d.tensors, 0u);
    EXPECT_LE(d.max_abs, tolerance) << "step " << s << ", worst tensor " << d.name;
  }
  const ParamDiff moved = param_diff(step_dir(runs.single, 1), step_dir(runs.single, steps));
  EXPECT_GT(moved.max_abs, 20 * tolerance) << "training barely moved the parameters";
}

}  // namespace

TEST_F(DataParallel, Stage1TwoRanksTakeTheSameStepsAsOneProcess) {
  constexpr int64_t kSteps = 6;
  // Every stage-1 option at once, the demo's ViT stem and tags read from its output patches among them.
  std::string common = common_yaml();
  common.replace(common.find("train: true}"), 12, "train: true, stem_channels: [4, 8]}");
  const std::string config = write(
      "stage1.yaml", common + "train: {stage: stage1, steps: 6, lr: 1.0e-3, warmup_steps: 1, precision: fp32,"
                                     " learn_temperature: true, itg_weight: 0.5, itm_weight: 0.5,"
                                     " negative_words: [\"circle square triangle star cross\", \"red green blue\"],"
                                     " tag_weight: 0.5, tag_min_count: 2, tag_source: vision_patches}\n"
                                     "schedule: {log_every: 1, eval_every: 0, eval_batches: 1, save_every: 1,"
                                     " keep_checkpoints: 10}\n");
  const Runs runs = train_both(config);
  if (HasFailure()) return;
  expect_same_steps(runs, kSteps, kStage1Tolerance);
}

TEST_F(DataParallel, Stage2TwoRanksTakeTheSameStepsAsOneProcess) {
  constexpr int64_t kSteps = 3;
  const std::string lm = tiny_lm();
  ASSERT_FALSE(lm.empty());
  const std::string config = stage2_config("stage2.yaml", lm, "0.0", "steps: 3, grad_accum: 2");
  const Runs runs = train_both(config);
  if (HasFailure()) return;
  expect_same_steps(runs, kSteps, kStage2Tolerance);
}

// Stage lm (the demo's LM pretraining) draws its rows from one stream on every rank and keeps
// its share; the loss is normalised by the target tokens of the whole global batch.
TEST_F(DataParallel, LmStageTwoRanksTakeTheSameStepsAsOneProcess) {
  constexpr int64_t kSteps = 3;
  const std::string config =
      write("lm-dp.yaml", lm_stage_yaml("seed: 5, deterministic: true", "steps: 3, grad_accum: 2, lr_head: 3.0e-3",
                                        "log_every: 1, eval_every: 0, eval_batches: 1, save_every: 1,"
                                        " keep_checkpoints: 10"));
  const Runs runs = train_both(config);
  if (HasFailure()) return;
  expect_same_steps(runs, kSteps, kStage2Tolerance);
}

// ITM gathers every rank's caption ids, which each rank pads to its own longest caption: the
// shapes must be made to agree (batch 4 here, so that the ranks' longest captions differ).
TEST_F(DataParallel, Stage1WithItmRunsOnTwoRanksWhoseCaptionsDifferInLength) {
  const std::string config = write(
      "itm.yaml", common_yaml() + "train: {stage: stage1, steps: 3, batch_size: 4, lr: 1.0e-3, warmup_steps: 1,"
                                  " precision: fp32, itm_weight: 1.0, tag_weight: 1.0, tag_min_count: 2}\n"
                                  "schedule: {log_every: 1, eval_every: 0, eval_batches: 1, save_every: 0}\n");
  const auto ranks = vlm::test::launch_ranks(VLM_BINARY, {"train", "--config", config, "--set", "run.name=itm"},
                                             /*world=*/2, dir_.path() + "/itm-");
  for (size_t r = 0; r < ranks.size(); ++r) ASSERT_EQ(ranks[r].status, 0) << "rank " << r << ":\n" << ranks[r].log;
  const auto itm = logged(dir_.path() + "/runs/itm", "train/loss_itm");
  ASSERT_EQ(itm.size(), 3u);
  for (double v : itm) EXPECT_TRUE(std::isfinite(v) && v > 0) << v;
  const auto tag = logged(dir_.path() + "/runs/itm", "train/loss_tag");  // read from the queries
  ASSERT_EQ(tag.size(), 3u);
  for (double v : tag) EXPECT_TRUE(std::isfinite(v) && v > 0) << v;
}

// A two-rank run resumed from its step-2 checkpoint takes the same steps 3 and 4 as the run that
// went on: each rank restores its own RNG state. LoRA dropout draws from that state (seeded apart
// per rank), so rank 1 restarting from rank 0's state would train on other dropout masks.
TEST_F(DataParallel, TwoRankRunResumesWithEveryRanksRandomState) {
  const std::string lm = tiny_lm();
  ASSERT_FALSE(lm.empty());
  const std::string config = stage2_config("resume.yaml", lm, "0.3", "steps: 4, batch_size: 4");
  const auto ranks = vlm::test::launch_ranks(VLM_BINARY, {"train", "--config", config, "--set", "run.name=full"},
                                             /*world=*/2, dir_.path() + "/full-");
  for (size_t r = 0; r < ranks.size(); ++r) ASSERT_EQ(ranks[r].status, 0) << "rank " << r << ":\n" << ranks[r].log;
  const std::string full = dir_.path() + "/runs/full", cut = dir_.path() + "/runs/cut";
  const auto rng = vlm::io::TensorStore::open(step_dir(full, 2) + "/rng.safetensors");
  ASSERT_TRUE(rng.contains("cpu.rank1"));
  EXPECT_FALSE(rng.get("cpu").equal(rng.get("cpu.rank1"))) << "the ranks are seeded apart";

  // The run as a SIGKILL after step 2's checkpoint leaves it.
  fs::copy(full, cut, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  for (int64_t s : {3, 4}) fs::remove_all(step_dir(cut, s));
  fs::remove_all(cut + "/export");
  fs::remove(cut + "/checkpoints/latest");
  fs::create_directory_symlink(fs::path(step_dir(cut, 2)).filename(), cut + "/checkpoints/latest");
  const auto resumed = vlm::test::launch_ranks(VLM_BINARY, {"train", "--resume", cut}, /*world=*/2,
                                               dir_.path() + "/cut-");
  for (size_t r = 0; r < resumed.size(); ++r) {
    ASSERT_EQ(resumed[r].status, 0) << "rank " << r << ":\n" << resumed[r].log;
  }
  const auto want = logged(full, "train/loss"), got = logged(cut, "train/loss");
  ASSERT_EQ(want.size(), 4u);
  ASSERT_EQ(got.size(), 4u);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_DOUBLE_EQ(got[i], want[i]) << "step " << i + 1;
  EXPECT_EQ(param_diff(step_dir(full, 4), step_dir(cut, 4)).max_abs, 0.0);
}
