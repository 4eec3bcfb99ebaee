// A checkpoint is a model (issue: the real workflow), through the CLI on tiny runs:
// - `eval retrieval` reads a run (its best checkpoint), its export and any checkpoint; the last
//   step's checkpoint scores exactly as the export, and a stage-1 checkpoint feeds stage 2;
// - `caption` reads a stage-2 checkpoint and answers exactly as the export;
// - train.epochs becomes steps from the training split's size; a failed start leaves no run
//   directory; --config with --resume is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "test_util.h"
#include "tiny_stage1.h"

namespace fs = std::filesystem;

namespace {

class CheckpointModel : public ::testing::Test {
 protected:
  void SetUp() override { data_ = vlm::test::make_tiny_demo_data(dir_.path()); }

  std::string write(const std::string& name, const std::string& yaml) const {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << yaml;
    return path;
  }

  // Stage 1 for 4 steps: checkpoints at 2 and 4, validation at 2 and 4 (so `best` exists).
  std::string stage1_config() const {
    return write("stage1.yaml", vlm::test::tiny_stage1_sections(dir_.path(), data_) +
                                    "train: {stage: stage1, steps: 4, batch_size: 8, lr: 1.0e-3, warmup_steps: 1,"
                                    " precision: fp32}\n"
                                    "schedule: {log_every: 1, eval_every: 2, eval_batches: 1, save_every: 2,"
                                    " keep_checkpoints: 4}\n");
  }

  nlohmann::json retrieval(const std::string& model, const std::string& split = "val") const {
    const auto r = vlm::test::run_vlm("eval retrieval --model " + model + " --data " + data_.train_dir + " --split " +
                                          split + " --out " + dir_.path() + "/eval-out",
                                      /*merge_stderr=*/false);
    EXPECT_EQ(r.status, 0) << r.output;
    return r.status == 0 ? nlohmann::json::parse(r.output) : nlohmann::json();
  }

  vlm::test::TempDir dir_;
  vlm::train::DemoData data_;
};

TEST_F(CheckpointModel, Stage1CheckpointsEvaluateAndFeedStage2) {
  const auto t = vlm::test::run_vlm("train --config " + stage1_config() + " --set run.name=s1");
  ASSERT_EQ(t.status, 0) << t.output;
  const std::string run = dir_.path() + "/runs/s1";
  ASSERT_TRUE(fs::exists(run + "/checkpoints/best"));
  ASSERT_TRUE(fs::exists(run + "/export/stage1.json"));
  const auto from_export = retrieval(run + "/export");
  const auto from_last = retrieval(run + "/checkpoints/step-0000004");
  ASSERT_FALSE(from_export.is_null());
  EXPECT_EQ(from_export, from_last);  // the same weights, read two ways
  // The validation split only: 10% of 160 scenes, every caption of each.
  const int64_t val_images = from_export["images"].get<int64_t>();
  EXPECT_GT(val_images, 0);
  EXPECT_LT(val_images, 40);
  EXPECT_EQ(retrieval(run, "all")["images"].get<int64_t>(), 160);
  EXPECT_FALSE(retrieval(run + "/checkpoints/best").is_null());
  EXPECT_FALSE(retrieval(run + "/checkpoints/step-0000002", "train").is_null());
  // A stage-1 checkpoint (not only a finished run's export) starts stage 2.
  const std::string lm = dir_.path() + "/runs/lm/export";
  const auto pre = vlm::test::run_vlm(
      "train --config " +
      write("lm.yaml", vlm::test::tiny_stage1_sections(dir_.path(), data_) + "lm: {path: " + data_.tokenizer_dir +
                           ", hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1,"
                           " intermediate_size: 64}\n"
                           "train: {stage: lm, steps: 2, batch_size: 8, warmup_steps: 1, precision: fp32}\n") +
      " --set run.name=lm");
  ASSERT_EQ(pre.status, 0) << pre.output;
  const std::string stage2 = write(
      "stage2.yaml", vlm::test::tiny_stage1_sections(dir_.path(), data_) +
                         "lm: {path: " + lm + ", lora_enabled: true, lora: {r: 4, alpha: 8, dropout: 0.0}}\n"
                         "train: {stage: stage2, steps: 3, batch_size: 4, warmup_steps: 1, precision: fp32}\n"
                         "schedule: {log_every: 1, eval_every: 3, eval_batches: 1, save_every: 3, sample_captions: 0}\n"
                         "prompt: {max_target_tokens: 16}\n"
                         "generation: {max_new_tokens: 6, temperature: 0.0, repetition_penalty: 1.0}\n");
  const auto s2 = vlm::test::run_vlm("train --config " + stage2 + " --set run.name=s2 --set qformer.checkpoint=" +
                                     run + "/checkpoints/step-0000002");
  ASSERT_EQ(s2.status, 0) << s2.output;
  EXPECT_NE(s2.output.find("checkpoint step-0000002"), std::string::npos) << s2.output;
  // The stage-2 checkpoint captions exactly as the export.
  std::string first_image;
  for (const auto& e : fs::directory_iterator(data_.eval_dir))
    if (e.path().extension() == ".png") first_image = e.path().string();
  ASSERT_FALSE(first_image.empty());
  const auto a = vlm::test::run_vlm("caption --model " + dir_.path() + "/runs/s2/export " + first_image, false);
  const auto b = vlm::test::run_vlm("caption --model " + dir_.path() + "/runs/s2/checkpoints/latest " + first_image, false);
  ASSERT_EQ(a.status, 0) << a.output;
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_EQ(a.output, b.output);
  // A stage-2 model is refused where a stage-1 model is wanted, naming the path.
  const auto wrong = vlm::test::run_vlm("eval retrieval --model " + dir_.path() + "/runs/s2 --data " + data_.train_dir);
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.output.find("not a stage-1 model"), std::string::npos) << wrong.output;
}

TEST_F(CheckpointModel, EpochsBecomeStepsAndBadStartsLeaveNothing) {
  const auto t = vlm::test::run_vlm("train --config " + stage1_config() +
                                    " --set run.name=ep --set train.steps=0 --set train.epochs=0.5"
                                    " --set schedule.save_every=0 --set schedule.eval_every=0");
  ASSERT_EQ(t.status, 0) << t.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(t.output, m, std::regex(R"(train\.epochs 0\.5: (\d+) steps \((\d+) training samples)")))
      << t.output;
  const int64_t steps = std::stoll(m[1]), samples = std::stoll(m[2]);
  EXPECT_EQ(steps, static_cast<int64_t>(std::ceil(0.5 * static_cast<double>(samples) / 8)));
  EXPECT_NE(t.output.find("finished at step " + std::to_string(steps)), std::string::npos) << t.output;

  const auto bad = vlm::test::run_vlm("train --config " + stage1_config() +
                                      " --set run.name=bad --set vision.path=" + dir_.path() + "/no-such-vit");
  EXPECT_EQ(bad.status, 1);
  EXPECT_FALSE(fs::exists(dir_.path() + "/runs/bad")) << "a failed start left its run directory";

  const auto both = vlm::test::run_vlm("train --config " + stage1_config() + " --resume " + dir_.path() + "/runs/ep");
  EXPECT_EQ(both.status, 2);
  EXPECT_NE(both.output.find("give one of them"), std::string::npos) << both.output;
}

}  // namespace
