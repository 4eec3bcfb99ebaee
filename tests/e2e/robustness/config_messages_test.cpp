// Configs and command-line values that must be refused, and the messages that must name the
// real cause (issue 22, items 7 and 9): duplicate YAML keys, values past the schema's upper
// bounds, NaN/inf options, a directory given as a config or an output file, 3000-deep YAML,
// `--set` errors blamed on the override (integer overflow called so), `tokenize --decode` with
// ids outside the vocabulary, and a dataset with no usable sample.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"
#include "tiny_stage1.h"
#include "train/demo_data.h"

namespace fs = std::filesystem;
using vlm::test::run_vlm;

namespace {

struct Config {
  vlm::test::TempDir dir;
  std::string path;
  explicit Config(const std::string& yaml) : path(dir.path() + "/c.yaml") { std::ofstream(path) << yaml; }
};

const char* const kMinimal = "data: {path: /tmp/nowhere}\ntrain: {stage: stage1, steps: 10}\n";

void expect_refused(const std::string& args, const std::string& message, int status = 1) {
  const auto r = run_vlm(args);
  EXPECT_EQ(r.status, status) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
}

}  // namespace

TEST(ConfigRefusals, DuplicateKeysNameBothLines) {
  Config twice("data: {path: /tmp/nowhere}\ntrain:\n  stage: stage1\n  steps: 10\ntrain:\n  steps: 99\n");
  expect_refused("config show " + twice.path, "key 'train' appears twice in one mapping (lines 2 and 5)");
  Config inner("data: {path: /tmp/nowhere}\ntrain:\n  steps: 10\n  lr: 1.0e-3\n  steps: 20\n");
  expect_refused("config show " + inner.path, "key 'steps' appears twice in one mapping (lines 3 and 5)");
}

TEST(ConfigRefusals, UpperBoundsAndNonFiniteValues) {
  Config c(kMinimal);
  expect_refused("config show " + c.path + " --set vision.image_size=100000",
                 "config key 'vision.image_size': must be >= 8 and <= 4096, got 100000");
  expect_refused("config show " + c.path + " --set data.workers=100000",
                 "config key 'data.workers': must be >= 0 and <= 256, got 100000");
  expect_refused("config show " + c.path + " --set vision.image_size=4096 --set vision.patch_size=2",
                 "patches per image, more than 16384");
  expect_refused("config show " + c.path + " --set train.lr=nan", "config key 'train.lr': expected a finite number");
  expect_refused("data stats --data " + c.dir.path() + " --workers 2000", "--workers must be 1..256, got 2000", 2);
  expect_refused("caption --model " + c.dir.path() + " --temperature nan x.jpg",
                 "option '--temperature' wants a finite number, got 'nan'", 2);
  expect_refused("caption --model " + c.dir.path() + " --top-k 99999999999999999999 x.jpg",
                 "99999999999999999999 is out of the range of a 64-bit integer", 2);
}

TEST(ConfigMessages, SetErrorsNameTheOverrideAndOverflow) {
  Config c(kMinimal);
  const auto lr = run_vlm("config show " + c.path + " --set train.lr=abc");
  EXPECT_EQ(lr.status, 1);
  EXPECT_NE(lr.output.find("config key 'train.lr': expected a number, got 'abc'"), std::string::npos) << lr.output;
  EXPECT_NE(lr.output.find("from --set train.lr=abc"), std::string::npos) << lr.output;
  EXPECT_EQ(lr.output.find("in " + c.path), std::string::npos) << lr.output;
  const auto big = run_vlm("config show " + c.path + " --set train.steps=99999999999999999999");
  EXPECT_EQ(big.status, 1);
  EXPECT_NE(big.output.find("'99999999999999999999' is out of the range of a 64-bit integer"), std::string::npos)
      << big.output;
  EXPECT_NE(big.output.find("from --set train.steps=99999999999999999999"), std::string::npos) << big.output;
  const auto unknown = run_vlm("config show " + c.path + " --set train.bach_size=4");
  EXPECT_NE(unknown.output.find("from --set train.bach_size=4; valid keys here:"), std::string::npos) << unknown.output;
  // A value from the file is still blamed on the file.
  Config bad("data: {path: /tmp/nowhere}\ntrain: {stage: stage1, steps: ten}\n");
  expect_refused("config show " + bad.path, "in " + bad.path);
}

TEST(ConfigMessages, DirectoriesAndDeepYaml) {
  Config c(kMinimal);
  expect_refused("config show " + c.dir.path(), c.dir.path() + ": is a directory, not a config file");
  std::string deep;
  for (int i = 0; i < 3000; ++i) deep += "[";
  Config nested("x: " + deep + "\n");
  const auto r = run_vlm("config show " + nested.path);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("nested deeper than yaml-cpp's limit of 2000 levels"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("syntax error"), std::string::npos) << r.output;
  // --out naming a directory is refused before any image is read, with the reason.
  fs::create_directories(c.dir.path() + "/model");
  std::ofstream(c.dir.path() + "/model/preprocessor_config.json") << "{}";
  expect_refused("preprocess --model " + c.dir.path() + "/model --out " + c.dir.path() + " x.jpg",
                 c.dir.path() + ": is a directory, not an output file");
}

TEST(ConfigMessages, TokenizeDecodeRefusesIdsOutsideTheVocabulary) {
  const std::string tok = vlm::test::fixture("tokenizers/gpt2");
  vlm::test::TempDir dir;
  const std::string input = dir.path() + "/ids.jsonl";
  for (const std::string ids : {"[15496, -1]", "[50257]", "[18446744073709551615]"}) {
    std::ofstream(input) << "{\"ids\": " << ids << "}\n";
    const auto r = run_vlm("tokenize --tokenizer " + tok + " --decode < " + input);
    EXPECT_EQ(r.status, 1) << ids << "\n" << r.output;
    EXPECT_NE(r.output.find("stdin line 1: id "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("is not in the vocabulary (ids 0..50256)"), std::string::npos) << r.output;
  }
  std::ofstream(input) << "{\"ids\": [15496]}\n";
  const auto ok = run_vlm("tokenize --tokenizer " + tok + " --decode < " + input);
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("Hello"), std::string::npos) << ok.output;
}

TEST(ConfigMessages, NoUsableSamplesSaysSo) {
  vlm::test::TempDir dir;
  const auto data = vlm::test::make_tiny_demo_data(dir.path());
  const std::string table = dir.path() + "/bad.csv";
  std::ofstream(table) << "image,caption\n,empty image\nx.png,\"caf\xE9\"\n";
  const std::string config = dir.path() + "/c.yaml";
  std::ofstream(config) << vlm::test::tiny_stage1_sections(dir.path(), data)
                        << "train: {stage: stage1, steps: 2, batch_size: 4, warmup_steps: 0, precision: fp32}\n";
  const auto r = run_vlm("train --config " + config + " --set data.path=" + table);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(table + ": holds no usable samples (2 bad_row)"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("val_fraction"), std::string::npos) << r.output;
}
