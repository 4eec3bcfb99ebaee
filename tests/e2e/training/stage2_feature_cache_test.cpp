// `vlm train` stage 2 with vision.feature_cache: the frozen ViT's output read from the cache
// instead of computed every step gives the same training and validation losses as the ViT
// itself (fp32 cache: within 1e-5), and a stage-1 cache of the same ViT and data is reused.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "test_util.h"
#include "tiny_stage1.h"
#include "train/demo_data.h"
#include "eval/run_files.h"

namespace {

// Same features up to GEMM blocking (built in other batch sizes), through 6 optimizer steps.
constexpr double kFp32CacheTolerance = 1e-5;

std::vector<double> metric(const std::string& run_dir, const std::string& name) {
  std::vector<double> out;
  for (const auto& row : vlm::eval::run_files::read_metrics(run_dir + "/metrics.jsonl")) {
    if (row.values.count(name)) out.push_back(row.values.at(name));
  }
  return out;
}

TEST(Stage2FeatureCache, SameLossesAsTheViTAndTheStage1CacheIsReused) {
  vlm::test::TempDir dir;
  const auto data = vlm::test::make_tiny_demo_data(dir.path());
  const std::string sections =
      vlm::test::tiny_stage1_sections(dir.path(), data, {.vision_train = false}) +
      "schedule: {log_every: 1, eval_every: 3, eval_batches: 1, save_every: 0, sample_captions: 0}\n"
      "prompt: {max_target_tokens: 16}\n";
  auto write = [&](const std::string& name, const std::string& yaml) {
    const std::string path = dir.path() + "/" + name;
    std::ofstream(path) << yaml;
    return path;
  };
  const auto lm = vlm::test::run_vlm(
      "train --config " +
      write("lm.yaml", sections + "lm: {path: " + data.tokenizer_dir +
                           ", hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1,"
                           " intermediate_size: 64}\n"
                           "train: {stage: lm, steps: 2, batch_size: 8, warmup_steps: 1, precision: fp32}\n") +
      " --set run.name=lm");
  ASSERT_EQ(lm.status, 0) << lm.output;
  const std::string cache = dir.path() + "/vit-features";
  const std::string with_cache = " --set vision.feature_cache=" + cache + " --set vision.feature_cache_dtype=fp32";
  // Stage 1 builds the cache (the same frozen random ViT: same seed, same config).
  const auto s1 = vlm::test::run_vlm(
      "train --config " +
      write("stage1.yaml", sections + "train: {stage: stage1, steps: 1, batch_size: 8, warmup_steps: 0, precision: fp32}\n") +
      " --set run.name=s1" + with_cache);
  ASSERT_EQ(s1.status, 0) << s1.output;
  EXPECT_NE(s1.output.find("feature cache: building"), std::string::npos) << s1.output;

  const std::string stage2 = write(
      "stage2.yaml", sections + "lm: {path: " + dir.path() + "/runs/lm/export" +
                         ", lora_enabled: true, lora: {r: 4, alpha: 8, dropout: 0.0}}\n"
                         "train: {stage: stage2, steps: 6, batch_size: 4, lr: 1.0e-3, lr_head: 2.0e-3,"
                         " warmup_steps: 1, precision: fp32}\n");
  const auto plain = vlm::test::run_vlm("train --config " + stage2 + " --set run.name=plain");
  ASSERT_EQ(plain.status, 0) << plain.output;
  const auto cached = vlm::test::run_vlm("train --config " + stage2 + " --set run.name=cached" + with_cache);
  ASSERT_EQ(cached.status, 0) << cached.output;
  EXPECT_NE(cached.output.find("feature cache: reusing"), std::string::npos) << cached.output;

  const std::string runs = dir.path() + "/runs/";
  for (const char* name : {"train/loss", "val/loss"}) {
    const auto want = metric(runs + "plain", name), got = metric(runs + "cached", name);
    ASSERT_EQ(got.size(), want.size()) << name;
    ASSERT_FALSE(want.empty()) << name;
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_LE(std::abs(got[i] - want[i]), kFp32CacheTolerance) << name << " #" << i << ": " << got[i] << " vs "
                                                                  << want[i];
  }
}

}  // namespace
