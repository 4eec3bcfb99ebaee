// `vlm train` stage 1 with vision.feature_cache on a tiny synthetic dataset and a frozen random
// ViT: the same training and validation losses as without the cache (fp32 cache: within 1e-6;
// bf16: within 2e-2), a second run reuses the cache, a changed dtype rebuilds it, and the
// configurations a cache cannot serve are refused before any work starts.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "eval/run_files.h"
#include "test_util.h"
#include "tiny_stage1.h"
#include "train/demo_data.h"

namespace fs = std::filesystem;

namespace {

constexpr double kFp32CacheTolerance = 1e-6;  // same features up to GEMM blocking (built in other batches)
constexpr double kBf16CacheTolerance = 2e-2;  // features rounded to bf16 (relative error ~4e-3)

struct Fixture {
  vlm::test::TempDir dir;
  vlm::train::DemoData data;
  std::string config, cache;

  Fixture() {
    data = vlm::test::make_tiny_demo_data(dir.path());
    cache = dir.path() + "/vit-features";
    config = dir.path() + "/stage1.yaml";
    std::ofstream(config) << vlm::test::tiny_stage1_sections(dir.path(), data, {.vision_train = false, .vision_layers = 2})
                          << "train: {stage: stage1, steps: 12, batch_size: 16, lr: 1.0e-3, warmup_steps: 2,"
                             " precision: fp32, learn_temperature: true, itm_weight: 0.5}\n"
                          << "schedule: {log_every: 1, eval_every: 6, eval_batches: 1, save_every: 6}\n";
  }
  vlm::test::RunResult train(const std::string& name, const std::string& extra = {}) const {
    return vlm::test::run_vlm("train --config " + config + " --set run.name=" + name + " " + extra);
  }
  std::string with_cache(const std::string& dtype) const {
    return "--set vision.feature_cache=" + cache + " --set vision.feature_cache_dtype=" + dtype;
  }
};

std::vector<double> losses(const std::string& run_dir, const std::string& metric) {
  std::vector<double> out;
  for (const auto& row : vlm::eval::run_files::read_metrics(run_dir + "/metrics.jsonl")) {
    if (row.values.count(metric)) out.push_back(row.values.at(metric));
  }
  return out;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tolerance,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_LE(std::abs(got[i] - want[i]), tolerance) << what << " #" << i << ": " << got[i] << " vs " << want[i];
  }
}

}  // namespace

TEST(FeatureCacheTraining, SameLossesAsTheViTAndASecondRunReusesTheCache) {
  Fixture f;
  const auto plain = f.train("plain");
  ASSERT_EQ(plain.status, 0) << plain.output;
  const std::string runs = f.dir.path() + "/runs/";
  const auto train_loss = losses(runs + "plain", "train/loss");
  const auto val_loss = losses(runs + "plain", "val/loss");
  ASSERT_EQ(train_loss.size(), 12u);
  ASSERT_EQ(val_loss.size(), 2u);

  const auto built = f.train("cached", f.with_cache("fp32"));
  ASSERT_EQ(built.status, 0) << built.output;
  EXPECT_NE(built.output.find("feature cache: building"), std::string::npos) << built.output;
  expect_close(losses(runs + "cached", "train/loss"), train_loss, kFp32CacheTolerance, "train/loss");
  expect_close(losses(runs + "cached", "val/loss"), val_loss, kFp32CacheTolerance, "val/loss");

  const auto manifest_time = fs::last_write_time(f.cache + "/manifest.json");
  const auto reused = f.train("reused", f.with_cache("fp32"));
  ASSERT_EQ(reused.status, 0) << reused.output;
  EXPECT_NE(reused.output.find("feature cache: reusing"), std::string::npos) << reused.output;
  EXPECT_EQ(reused.output.find("feature cache: building"), std::string::npos) << reused.output;
  EXPECT_EQ(fs::last_write_time(f.cache + "/manifest.json"), manifest_time);
  expect_close(losses(runs + "reused", "train/loss"), train_loss, kFp32CacheTolerance, "train/loss (reused)");

  const auto bf16 = f.train("bf16", f.with_cache("bf16"));  // another dtype: rebuilt
  ASSERT_EQ(bf16.status, 0) << bf16.output;
  EXPECT_NE(bf16.output.find("feature cache: building"), std::string::npos) << bf16.output;
  expect_close(losses(runs + "bf16", "train/loss"), train_loss, kBf16CacheTolerance, "train/loss (bf16 cache)");
}

TEST(FeatureCacheTraining, ResumeWithTheCacheContinuesTheSameRun) {
  Fixture f;
  // A constant rate, so that 4 steps then 4 more follow the same schedule as 8.
  const std::string flat = f.with_cache("fp32") + " --set train.schedule=constant --set train.warmup_steps=0";
  const auto full = f.train("full", flat + " --set train.steps=8");
  ASSERT_EQ(full.status, 0) << full.output;
  const auto half = f.train("half", flat + " --set train.steps=4 --set schedule.save_every=4");
  ASSERT_EQ(half.status, 0) << half.output;
  // The resumed run reads train.steps from the saved config: raise it there, as a user would with --set.
  const auto resumed = vlm::test::run_vlm("train --resume " + f.dir.path() + "/runs/half --set train.steps=8");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("feature cache: reusing"), std::string::npos) << resumed.output;
  const auto want = losses(f.dir.path() + "/runs/full", "train/loss");
  const auto got = losses(f.dir.path() + "/runs/half", "train/loss");
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_DOUBLE_EQ(got[i], want[i]) << "step " << i + 1;
}

TEST(FeatureCacheTraining, ConfigurationsTheCacheCannotServeAreRefused) {
  Fixture f;
  const std::string key = "config key 'vision.feature_cache': ";
  const struct {
    std::string set, message;
  } cases[] = {
      {"--set vision.train=true", "cannot cache a ViT that is being trained"},
      {"--set data.augment=true", "cannot cache features of augmented images"},
      {"--set train.stage=lm --set lm.path=" + f.dir.path(), "is for the stages with a ViT"},
  };
  for (const auto& c : cases) {
    const auto r = f.train("refused", f.with_cache("bf16") + " " + c.set);
    EXPECT_EQ(r.status, 1) << c.set;
    EXPECT_NE(r.output.find(key + c.message), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(f.dir.path() + "/runs/refused")) << c.set;
    EXPECT_FALSE(fs::exists(f.cache)) << c.set;
  }
}
