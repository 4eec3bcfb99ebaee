// `vlm inspect` end to end: a model folder (config + tensors) as text and as one JSON object,
// a single file, a sharded folder, and bad input (exit 1, one error line; usage exit 2).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "io/tensor_store.h"
#include "test_util.h"

namespace vlm::test {
namespace {

void write_model(const std::string& dir) {
  std::ofstream(dir + "/config.json") << R"({"model_type": "tiny", "hidden_size": 4})";
  io::save_tensors(dir + "/model.safetensors",
                   {{"embed.weight", torch::zeros({10, 4})},
                    {"layer.0.bias", torch::zeros({4}, torch::kBFloat16)},
                    {"step", torch::zeros({}, torch::kLong)}});
}

TEST(Inspect, FolderAsText) {
  TempDir dir;
  write_model(dir.path());
  const auto run = run_vlm("inspect " + dir.path(), /*merge_stderr=*/false);
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(run.output, dir.path() + "\n" +
                            "config.json:\n{\n  \"model_type\": \"tiny\",\n  \"hidden_size\": 4\n}\n"
                            "tensors (3):\n"
                            "  embed.weight  F32   [10, 4]\n"
                            "  layer.0.bias  BF16  [4]\n"
                            "  step          I64   []\n"
                            "parameters: 45 (45)\n");
}

TEST(Inspect, FolderAsOneJsonObject) {
  TempDir dir;
  write_model(dir.path());
  const auto run = run_vlm("inspect " + dir.path() + " --json", /*merge_stderr=*/false);
  ASSERT_EQ(run.status, 0) << run.output;
  const auto j = nlohmann::json::parse(run.output);  // throws if there is anything but one object
  EXPECT_EQ(j["parameters"], 45);
  EXPECT_EQ(j["config"]["hidden_size"], 4);
  ASSERT_EQ(j["tensors"].size(), 3u);
  EXPECT_EQ(j["tensors"][0], nlohmann::json::parse(R"({"name": "embed.weight", "dtype": "F32", "shape": [10, 4]})"));
  EXPECT_EQ(j["tensors"][1]["dtype"], "BF16");
  EXPECT_EQ(j["tensors"][2]["shape"], nlohmann::json::array());
}

TEST(Inspect, SingleFileAndShardedFolder) {
  TempDir dir;
  io::save_tensors(dir.path() + "/a.safetensors", {{"x", torch::zeros({1000, 1500})}});
  auto run = run_vlm("inspect " + dir.path() + "/a.safetensors --json", /*merge_stderr=*/false);
  ASSERT_EQ(run.status, 0) << run.output;
  auto j = nlohmann::json::parse(run.output);
  EXPECT_FALSE(j.contains("config"));
  EXPECT_EQ(j["parameters"], 1500000);
  run = run_vlm("inspect " + dir.path() + "/a.safetensors", /*merge_stderr=*/false);
  EXPECT_NE(run.output.find("parameters: 1500000 (1.50M)\n"), std::string::npos) << run.output;

  TempDir sharded;
  io::save_tensors(sharded.path() + "/model-00001-of-00002.safetensors", {{"a", torch::zeros({2, 3})}});
  io::save_tensors(sharded.path() + "/model-00002-of-00002.safetensors", {{"b", torch::zeros({5}, torch::kHalf)}});
  std::ofstream(sharded.path() + "/model.safetensors.index.json")
      << R"({"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})";
  run = run_vlm("inspect --json " + sharded.path(), /*merge_stderr=*/false);
  ASSERT_EQ(run.status, 0) << run.output;
  j = nlohmann::json::parse(run.output);
  EXPECT_EQ(j["parameters"], 11);
  EXPECT_EQ(j["tensors"][1]["name"], "b");
  EXPECT_EQ(j["tensors"][1]["dtype"], "F16");
}

TEST(Inspect, BadInputExitsWithOneErrorLine) {
  TempDir dir;
  const std::string bad = dir.path() + "/bad.safetensors";
  std::ofstream(bad) << "abc";
  auto run = run_vlm("inspect " + bad);
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.output.substr(0, run.output.find('\n')),
            "error: " + bad + ": too short for a safetensors header length (3 bytes)");

  write_model(dir.path());
  std::ofstream(dir.path() + "/config.json") << "{oops";
  run = run_vlm("inspect " + dir.path());
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.output.rfind("error: " + dir.path() + "/config.json: not valid JSON", 0), 0u) << run.output;

  run = run_vlm("inspect " + dir.path() + "/absent");
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.output, "error: " + dir.path() + "/absent: no such file or folder\n");

  run = run_vlm("inspect");
  EXPECT_EQ(run.status, 2) << run.output;
}

}  // namespace
}  // namespace vlm::test
