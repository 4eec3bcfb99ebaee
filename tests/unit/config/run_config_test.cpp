#include "config/run_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>

#include "core/error.h"
#include "test_util.h"

namespace {

using vlm::config::load_run_config;

std::string write(const vlm::test::TempDir& dir, const std::string& text) {
  const std::string path = dir.path() + "/c.yaml";
  std::ofstream(path) << text;
  return path;
}

// Returns the ConfigError message (or fails the test).
std::string config_error(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  vlm::test::TempDir dir;
  try {
    load_run_config(write(dir, yaml), overrides);
  } catch (const vlm::ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << yaml;
  return {};
}

const char* kMinimal = "data:\n  path: /data/cc\n";

}  // namespace

TEST(RunConfig, DefaultsFollowTheReference) {
  vlm::test::TempDir dir;
  const auto c = load_run_config(write(dir, kMinimal));
  EXPECT_EQ(c.data.path, "/data/cc");
  EXPECT_EQ(c.train.batch_size, 8);
  EXPECT_DOUBLE_EQ(c.train.temperature, 0.07);
  EXPECT_EQ(c.lm.lora.r, 64);
  EXPECT_DOUBLE_EQ(c.lm.lora.alpha, 128);
  EXPECT_EQ(c.qformer.num_query_tokens, 32);
  EXPECT_EQ(c.prompt.user.size(), 12u);
}

TEST(RunConfig, OverridesApplyInOrderAndCreateSections) {
  vlm::test::TempDir dir;
  const auto c = load_run_config(write(dir, kMinimal), {"train.lr=3e-4", "train.lr=5e-4", "lm.lora.r=8",
                                                        "prompt.user=[a, b]", "run.deterministic=true"});
  EXPECT_DOUBLE_EQ(c.train.lr, 5e-4);
  EXPECT_EQ(c.lm.lora.r, 8);
  EXPECT_EQ(c.prompt.user, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(c.run.deterministic);
}

TEST(RunConfig, UnknownKeysAreRefusedWithTheirPath) {
  EXPECT_EQ(config_error("data:\n  path: x\n  pth: y\n"), "config key 'data.pth': unknown key");
  EXPECT_EQ(config_error("trian:\n  lr: 1\n"), "config key 'trian': unknown key");
  EXPECT_EQ(config_error(kMinimal, {"train.lrr=1"}), "config key 'train.lrr': unknown key");
}

TEST(RunConfig, UnknownKeyHintListsValidKeys) {
  vlm::test::TempDir dir;
  try {
    load_run_config(write(dir, "data:\n  path: x\n  pth: y\n"));
    FAIL();
  } catch (const vlm::ConfigError& e) {
    EXPECT_NE(e.hint().find("valid keys here: path, format"), std::string::npos) << e.hint();
  }
}

TEST(RunConfig, WrongTypesAreRefused) {
  EXPECT_EQ(config_error(kMinimal, {"train.steps=ten"}), "config key 'train.steps': expected an integer, got 'ten'");
  EXPECT_EQ(config_error(kMinimal, {"train.steps=1.5"}), "config key 'train.steps': expected an integer, got '1.5'");
  EXPECT_EQ(config_error(kMinimal, {"train.lr=fast"}), "config key 'train.lr': expected a number, got 'fast'");
  EXPECT_EQ(config_error(kMinimal, {"run.deterministic=maybe"}),
            "config key 'run.deterministic': expected true or false, got 'maybe'");
  EXPECT_EQ(config_error(kMinimal, {"prompt.user=hello"}),
            "config key 'prompt.user': expected a list of strings, got 'hello'");
  EXPECT_EQ(config_error("data: 3\n"), "config key 'data': expected a mapping, got '3'");
}

TEST(RunConfig, OutOfRangeValuesAreRefused) {
  EXPECT_EQ(config_error(kMinimal, {"train.batch_size=0"}), "config key 'train.batch_size': must be >= 1 and <= 65536, got 0");
  EXPECT_EQ(config_error(kMinimal, {"train.lr=0"}), "config key 'train.lr': must be > 0, got 0");
  EXPECT_EQ(config_error(kMinimal, {"data.val_fraction=1.5"}),
            "config key 'data.val_fraction': must be >= 0 and <= 0.9, got 1.5");
  EXPECT_EQ(config_error(kMinimal, {"train.stage=stage3"}),
            "config key 'train.stage': 'stage3' is not one of: stage1, stage2, lm");
}

TEST(RunConfig, CrossFieldChecks) {
  EXPECT_EQ(config_error("train:\n  steps: 5\n"), "config key 'data.path': is required");
  EXPECT_EQ(config_error(kMinimal, {"train.stage=stage2"}), "config key 'lm.path': is required for stage stage2");
  EXPECT_EQ(config_error(kMinimal, {"vision.image_size=30", "vision.patch_size=16"}),
            "config key 'vision.image_size': 30 is not a multiple of patch_size 16");
  EXPECT_EQ(config_error(kMinimal, {"train.steps=10", "train.warmup_steps=20"}),
            "config key 'train.warmup_steps': is 20, more than train.steps 10");
  EXPECT_EQ(config_error(kMinimal, {"train.negative_words=[\"red green\", \"circle\"]"}),
            "config key 'train.negative_words': the group 'circle' needs at least two different words");
  EXPECT_EQ(config_error(kMinimal, {"train.negative_words=[\"red green\", \"Green square\"]"}),
            "config key 'train.negative_words': the word 'green' is in more than one group");
  EXPECT_EQ(config_error(kMinimal, {"train.stage=stage2", "lm.path=lm", "train.tag_weight=0.5"}),
            "config key 'train.tag_weight': is for stage 1 only, got stage stage2");
  EXPECT_EQ(config_error(kMinimal, {"train.stage=stage2", "lm.path=lm", "train.negative_words=[\"red green\"]"}),
            "config key 'train.negative_words': is for stage 1 only, got stage stage2");
  EXPECT_EQ(config_error(kMinimal, {"vision.stem_channels=[8, 8, 8, 8, 8]"}),
            "config key 'vision.stem_channels': 5 stride-2 convs do not divide patch_size 16");
  EXPECT_EQ(config_error(kMinimal, {"vision.stem_channels=[8]", "vision.path=vit"}),
            "config key 'vision.stem_channels': is for a ViT built from scratch, but vision.path loads one");
  EXPECT_EQ(config_error(kMinimal, {"train.tag_weight=-1"}), "config key 'train.tag_weight': must be >= 0, got -1");
  EXPECT_EQ(config_error(kMinimal, {"train.tag_vocab_size=0"}),
            "config key 'train.tag_vocab_size': must be >= 1 and <= 1048576, got 0");
  EXPECT_EQ(config_error(kMinimal, {"train.tag_weight=0.5", "train.tag_source=vision_patches"}),
            "config key 'train.tag_source': vision_patches teaches the ViT, but it is frozen (vision.train: false)");
}

TEST(RunConfig, IntegerListsAreReadCheckedAndPrinted) {
  vlm::test::TempDir dir;
  const auto c = load_run_config(write(dir, "data:\n  path: x\nvision:\n  stem_channels: [16, 32]\n"));
  EXPECT_EQ(c.vision.stem_channels, (std::vector<int64_t>{16, 32}));
  EXPECT_NE(vlm::config::to_yaml(c).find("stem_channels: [16, 32]"), std::string::npos);
  EXPECT_TRUE(load_run_config(write(dir, kMinimal), {"vision.stem_channels=[]"}).vision.stem_channels.empty());
  EXPECT_EQ(config_error(kMinimal, {"vision.stem_channels=16"}),
            "config key 'vision.stem_channels': expected a list of integers, got '16'");
  EXPECT_EQ(config_error(kMinimal, {"vision.stem_channels=[16, wide]"}),
            "config key 'vision.stem_channels': expected every item to be an integer, got 'wide'");
  EXPECT_EQ(config_error(kMinimal, {"vision.stem_channels=[16, [2]]"}),
            "config key 'vision.stem_channels': expected every item to be an integer, got a list");
  EXPECT_EQ(config_error(kMinimal, {"vision.stem_channels=[16, 0]"}),
            "config key 'vision.stem_channels': must be >= 1 and <= 4096, got 0");
}

TEST(RunConfig, SyntaxErrorNamesFileAndLine) {
  vlm::test::TempDir dir;
  const std::string path = write(dir, "data:\n  path: [unclosed\n");
  try {
    load_run_config(path);
    FAIL();
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(e.path(), path);
    EXPECT_NE(std::string(e.what()).find("YAML syntax error at line"), std::string::npos) << e.what();
  }
}

TEST(RunConfig, BadOverrideSyntaxIsAUsageError) {
  vlm::test::TempDir dir;
  const auto path = write(dir, kMinimal);
  EXPECT_THROW(load_run_config(path, {"train.lr"}), vlm::UsageError);
  EXPECT_THROW(load_run_config(path, {"train..lr=1"}), vlm::UsageError);
  EXPECT_THROW(load_run_config(path, {"data.path.x=1"}), vlm::UsageError);
}

TEST(RunConfig, PrintedYamlReadsBackToTheSameConfig) {
  vlm::test::TempDir dir;
  auto c = load_run_config(write(dir, kMinimal), {"train.lr=0.000123", "prompt.user=[\"a: b\", 'quote \"x\"']",
                                                  "qformer.similarity=max", "train.temperature=1",
                                                  "vision.stem_channels=[4, 8]"});
  const std::string yaml = vlm::config::to_yaml(c);
  const std::string again_path = dir.path() + "/again.yaml";
  std::ofstream(again_path) << yaml;
  const auto again = load_run_config(again_path);
  EXPECT_EQ(vlm::config::to_yaml(again), yaml);
  EXPECT_DOUBLE_EQ(again.train.lr, 0.000123);
  EXPECT_EQ(again.prompt.user[0], "a: b");
  EXPECT_EQ(again.prompt.user[1], "quote \"x\"");
  EXPECT_EQ(again.qformer.similarity, vlm::config::QuerySimilarity::kMax);
  EXPECT_EQ(again.vision.stem_channels, (std::vector<int64_t>{4, 8}));
}
