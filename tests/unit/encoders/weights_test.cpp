// The strict loader (models/weights.h) and the config.json reader (models/hf_config.h).
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "encoder_test_util.h"
#include "models/hf_config.h"
#include "models/weights.h"
#include "test_util.h"

namespace vlm::models {
namespace {

using test::TempDir;

// A two-level module: `block.dense` (Linear 3->2), `block.norm` (LayerNorm 2), `embed` (4x2), `head` (tied to embed).
struct ToyImpl : torch::nn::Module {
  ToyImpl() {
    auto block = register_module("block", std::make_shared<torch::nn::Module>());
    dense = block->register_module("dense", torch::nn::Linear(3, 2));
    norm = block->register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({2})));
    embed = register_module("embed", torch::nn::Embedding(4, 2));
    auto head = register_module("head", std::make_shared<torch::nn::Module>());
    head->register_parameter("weight", embed->weight);  // tied, as lm_head <- embed_tokens
  }
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Embedding embed{nullptr};
};
TORCH_MODULE(Toy);

NameTable toy_table() {
  NameTable t;
  t.model = "Toy";
  t.prefix = "toy.";
  t.skip = {{"classifier.*", "task head, not used"}};
  t.fallbacks = {{R"(^head\.weight$)", "embed.weight", "tied to the input embedding", /*tied=*/true}};
  return t;
}

std::vector<std::pair<std::string, at::Tensor>> toy_file(const Toy& src) {
  auto state = test::state_of(*src, "toy.");
  std::erase_if(state, [](const auto& kv) { return kv.first == "toy.head.weight"; });
  state.emplace_back("classifier.weight", torch::ones({5, 2}));
  return state;
}

TEST(Glob, MatchesStarsAndLiterals) {
  EXPECT_TRUE(glob_match("classifier.*", "classifier.weight"));
  EXPECT_TRUE(glob_match("*.bias", "a.b.bias"));
  EXPECT_TRUE(glob_match("a*c*e", "abcde"));
  EXPECT_TRUE(glob_match("exact", "exact"));
  EXPECT_FALSE(glob_match("classifier.*", "vit.classifier.weight"));
  EXPECT_FALSE(glob_match("a*c", "abcd"));
  EXPECT_FALSE(glob_match("exact", "exact2"));
}

TEST(Weights, LoadsWithPrefixSkipAndTie) {
  TempDir dir;
  Toy src;
  test::randomize(*src, 1);
  io::save_tensors(dir.path() + "/m.safetensors", toy_file(src));
  Toy dst;
  const LoadReport report = load_weights(*dst, dir.path() + "/m.safetensors", toy_table());
  EXPECT_EQ(report.loaded, 5u);  // dense.weight, dense.bias, norm.weight, norm.bias, embed.weight
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_EQ(report.skipped[0].first, "classifier.weight");
  EXPECT_EQ(report.skipped[0].second, "task head, not used");
  ASSERT_EQ(report.filled_from.size(), 1u);
  EXPECT_EQ(report.filled_from[0].first, "head.weight");
  for (const auto& p : src->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), dst->named_parameters()[p.key()])) << p.key();
}

TEST(Weights, ReportsEveryProblemAtOnce) {
  TempDir dir;
  Toy src;
  auto state = toy_file(src);
  std::erase_if(state, [](const auto& kv) { return kv.first == "toy.block.dense.bias"; });  // missing
  state.emplace_back("toy.block.extra", torch::zeros({7}));                                // unexpected
  for (auto& [name, t] : state)
    if (name == "toy.block.norm.weight") t = torch::ones({3});                              // wrong shape
  const std::string file = dir.path() + "/m.safetensors";
  io::save_tensors(file, state);
  Toy dst;
  const at::Tensor before = dst->dense->weight.clone();
  try {
    load_weights(*dst, file, toy_table());
    FAIL() << "expected a FileError";
  } catch (const FileError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 problems"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing: [toy.]block.dense.bias [2]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected: toy.block.extra [7] in " + file), std::string::npos) << msg;
    EXPECT_NE(msg.find("shape mismatch: toy.block.norm.weight: model expects [2], file has [3]"), std::string::npos)
        << msg;
    EXPECT_FALSE(e.hint().empty());
  }
  EXPECT_TRUE(torch::equal(before, dst->dense->weight)) << "a failed load must not touch the module";
}

TEST(Weights, DuplicateNamesWithAndWithoutPrefixAreAnError) {
  TempDir dir;
  Toy src;
  auto state = toy_file(src);
  state.emplace_back("embed.weight", torch::zeros({4, 2}));
  io::save_tensors(dir.path() + "/m.safetensors", state);
  Toy dst;
  EXPECT_THROW(load_weights(*dst, dir.path() + "/m.safetensors", toy_table()), FileError);
}

TEST(Weights, ConvertsBf16FileToModuleDtype) {
  TempDir dir;
  Toy src;
  auto state = toy_file(src);
  for (auto& [name, t] : state) t = t.to(torch::kBFloat16);
  io::save_tensors(dir.path() + "/m.safetensors", state);
  Toy dst;
  load_weights(*dst, dir.path() + "/m.safetensors", toy_table());
  EXPECT_EQ(dst->dense->weight.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(dst->dense->weight, src->dense->weight.to(torch::kBFloat16).to(torch::kFloat)));
}

TEST(Weights, RenamesOptionalAndComputed) {
  TempDir dir;
  Toy src;
  auto state = toy_file(src);
  for (auto& [name, t] : state)
    if (name == "toy.block.norm.weight") name = "toy.block.norm.gamma";
  std::erase_if(state, [](const auto& kv) { return kv.first == "toy.block.dense.bias"; });
  io::save_tensors(dir.path() + "/m.safetensors", state);
  NameTable t = toy_table();
  t.renames = {{R"(norm\.gamma$)", "norm.weight"}};
  t.optional = {{"block.dense.bias", "new in this model"}};
  Toy dst;
  const at::Tensor init_bias = dst->dense->bias.clone();
  const LoadReport report = load_weights(*dst, dir.path() + "/m.safetensors", t);
  EXPECT_TRUE(torch::equal(dst->norm->weight, src->norm->weight));
  EXPECT_TRUE(torch::equal(dst->dense->bias, init_bias));
  EXPECT_EQ(report.kept_init, std::vector<std::string>{"block.dense.bias"});
  t.computed = {{"block.norm.*", "rebuilt"}};
  EXPECT_EQ(expected_names(*dst, t), (std::vector<std::string>{"block.dense.bias", "block.dense.weight",
                                                                "embed.weight", "head.weight"}));
}

TEST(Weights, SaveWritesHfNamesWithoutTiedCopiesAndLoadsBack) {
  TempDir dir;
  Toy src;
  test::randomize(*src, 2);
  save_weights(*src, dir.path() + "/a.safetensors", toy_table());
  save_weights(*src, dir.path() + "/b.safetensors", toy_table(), /*with_prefix=*/true);
  const auto a = io::TensorStore::open(dir.path() + "/a.safetensors");
  EXPECT_EQ(a.names(), (std::vector<std::string>{"block.dense.bias", "block.dense.weight", "block.norm.bias",
                                                 "block.norm.weight", "embed.weight"}));
  EXPECT_EQ(a.metadata().at("format"), "pt");
  EXPECT_TRUE(io::TensorStore::open(dir.path() + "/b.safetensors").contains("toy.embed.weight"));
  for (const char* f : {"/a.safetensors", "/b.safetensors"}) {
    Toy dst;
    load_weights(*dst, dir.path() + f, toy_table());
    for (const auto& p : src->named_parameters())
      EXPECT_TRUE(torch::equal(p.value(), dst->named_parameters()[p.key()])) << f << " " << p.key();
  }
}

TEST(HfConfig, TypedGettersWithDefaultsAndErrorsNamingFileAndKey) {
  TempDir dir;
  const std::string file = dir.path() + "/config.json";
  std::ofstream(file) << R"({"hidden_size": 64, "eps": 1e-6, "ratio": 2, "flag": true, "act": "gelu",
                            "pooler": null, "bad": "12", "sub": {"n": 3}})";
  const HfConfig c = HfConfig::load(dir.path());
  EXPECT_EQ(c.get_int("hidden_size", 1), 64);
  EXPECT_EQ(c.get_int("absent", 7), 7);
  EXPECT_EQ(c.get_int("pooler", 5), 5);  // null = absent
  EXPECT_FALSE(c.get_optional_int("pooler").has_value());
  EXPECT_DOUBLE_EQ(c.get_double("eps", 0), 1e-6);
  EXPECT_DOUBLE_EQ(c.get_double("ratio", 0), 2.0);
  EXPECT_TRUE(c.get_bool("flag", false));
  EXPECT_EQ(c.get_string("act", ""), "gelu");
  EXPECT_EQ(c.sub("sub").get_int("n", 0), 3);
  try {
    c.get_int("bad", 0);
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'bad'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(c.get_bool("hidden_size", false), FileError);
  EXPECT_THROW(c.get_int("eps", 0), FileError);
  EXPECT_THROW(c.sub("act"), FileError);
  EXPECT_THROW(HfConfig::load(dir.path() + "/nope"), FileError);
  std::ofstream(dir.path() + "/broken.json") << "{";
  EXPECT_THROW(HfConfig::load(dir.path() + "/broken.json"), FileError);
}

}  // namespace
}  // namespace vlm::models
