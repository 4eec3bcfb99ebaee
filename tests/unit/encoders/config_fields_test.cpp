// Model config field lists against transformers' own config.json files (tests/fixtures/parity, written
// by tools/parity/make_fixtures.py): every key a config writes is spelled as in HF's file and carries
// the file's value, and config.json -> struct -> config.json -> struct is the identity.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "models/adapter.h"
#include "models/bert.h"
#include "models/decoder.h"
#include "models/hf_config.h"
#include "models/qformer.h"
#include "models/vit.h"
#include "test_util.h"

namespace vlm::test {
namespace {

using models::HfConfig;

// Keys we write that a transformers 5 file spells otherwise or leaves out, each with the reason.
const std::set<std::string> kOurKeys = {
    "torch_dtype",   // transformers 5 writes "dtype"; from_hf reads either
    "rope_scaling",  // transformers 5 writes "rope_parameters"; from_hf reads either
    "rope_theta",    // transformers 5 moves it into rope_parameters; from_hf reads either
    "position_embedding_type",  // BERT: transformers 4 writes it, 5 dropped it (always "absolute")
};

std::string config_path(const std::string& family) { return fixture("parity/" + family + "/config.json"); }

#define SKIP_IF_ABSENT(family)                                                             \
  if (!std::filesystem::exists(config_path(family)))                                       \
  GTEST_SKIP() << "no parity fixture at " << config_path(family)                           \
               << ": run `python3 tools/parity/make_fixtures.py` on a machine with transformers"

// Each key of `ours` is in `hf` with an equal value (numbers compared as doubles: HF writes 0.0 where
// we may write 0), apart from kOurKeys; returns how many keys were compared.
int expect_same_keys_and_values(const nlohmann::json& ours, const nlohmann::json& hf) {
  int compared = 0;
  for (const auto& [key, value] : ours.items()) {
    if (kOurKeys.count(key)) continue;
    if (key == "eos_token_id" || key == "bos_token_id" || key == "pad_token_id")
      if (!hf.contains(key)) continue;  // optional ids HF leaves out
    EXPECT_TRUE(hf.contains(key)) << "we write '" << key << "', transformers' config.json has no such key";
    if (!hf.contains(key)) continue;
    if (value.is_number() && hf[key].is_number()) EXPECT_DOUBLE_EQ(value.get<double>(), hf[key].get<double>()) << key;
    else EXPECT_EQ(value, hf[key]) << key;
    ++compared;
  }
  return compared;
}

template <typename Config>
void expect_round_trip(const std::string& family, size_t min_keys) {
  const HfConfig hf = HfConfig::load(config_path(family));
  const Config config = Config::from_hf(hf);
  config.validate();
  const nlohmann::json written = config.to_json();
  EXPECT_GE(static_cast<size_t>(expect_same_keys_and_values(written, hf.json())), min_keys) << family;
  // Written and read back: the same struct, so the same file.
  const Config again = Config::from_hf(HfConfig::from_json(written, family + " (written)"));
  EXPECT_EQ(again.to_json(), written) << family;
}

TEST(ConfigFields, VitRoundTripsHfConfig) {
  SKIP_IF_ABSENT("vit");
  expect_round_trip<models::ViTConfig>("vit", 17);
  const auto c = models::ViTConfig::from_json(config_path("vit"));
  EXPECT_EQ(c.hidden_size, 32);
  EXPECT_EQ(c.patch_size, 8);
  ASSERT_TRUE(c.pooler_output_size.has_value());
  EXPECT_EQ(*c.pooler_output_size, 32);
}

TEST(ConfigFields, DistilBertRoundTripsHfConfig) {
  SKIP_IF_ABSENT("distilbert");
  expect_round_trip<models::DistilBertConfig>("distilbert", 14);
  EXPECT_EQ(models::DistilBertConfig::from_json(config_path("distilbert")).hidden_dim, 64);
}

TEST(ConfigFields, BertRoundTripsHfConfig) {
  SKIP_IF_ABSENT("bert");
  expect_round_trip<models::BertConfig>("bert", 15);
  EXPECT_EQ(models::BertConfig::from_json(config_path("bert")).type_vocab_size, 2);
}

TEST(ConfigFields, LlamaRoundTripsHfConfig) {
  SKIP_IF_ABSENT("llama");
  expect_round_trip<models::DecoderConfig>("llama", 20);
  const auto c = models::DecoderConfig::from_json(config_path("llama"));
  EXPECT_EQ(c.rope_scaling.rope_type, "llama3");
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 32);
  EXPECT_EQ(c.torch_dtype, "float32");  // from transformers 5's "dtype"
  EXPECT_EQ(c.eos_token_id, std::vector<int64_t>{2});
  EXPECT_EQ(c.pad_token_id, 0);
}

TEST(ConfigFields, Qwen3RoundTripsHfConfig) {
  SKIP_IF_ABSENT("qwen3");
  expect_round_trip<models::DecoderConfig>("qwen3", 19);
  const auto c = models::DecoderConfig::from_json(config_path("qwen3"));
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1000000.0);  // from rope_parameters
  EXPECT_FALSE(c.to_json().contains("mlp_bias"));
}

// Absent keys take transformers' defaults, derived ones included.
TEST(ConfigFields, AbsentKeysTakeTransformersDefaults) {
  const auto c = models::DecoderConfig::from_hf(HfConfig::from_json(
      {{"model_type", "qwen3"}, {"hidden_size", 64}, {"num_attention_heads", 8}, {"head_dim", nullptr}}, "test"));
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.vocab_size, 151936);  // Qwen3Config's default, not Llama's
  EXPECT_FALSE(c.bos_token_id.has_value());
  const auto v = models::ViTConfig::from_hf(HfConfig::from_json({{"pooler_output_size", nullptr}}, "test"));
  EXPECT_FALSE(v.pooler_output_size.has_value());
  EXPECT_FALSE(v.to_json().contains("pooler_output_size"));
}

TEST(ConfigFields, WrongTypeNamesTheKey) {
  try {
    models::AdapterConfig::from_hf(HfConfig::from_json({{"model_type", "vlm_adapter"}, {"hidden_size", "wide"}}, "a.json"));
    FAIL() << "a string hidden_size was accepted";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("hidden_size"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("a.json"), std::string::npos) << e.what();
  }
}

// The Q-Former and adapter have no transformers counterpart: their own files round-trip.
TEST(ConfigFields, QFormerAndAdapterRoundTrip) {
  models::QFormerConfig q = models::QFormerConfig::tiny();
  q.cross_attention_freq = 1;
  q.text_model_type = "bert";
  const auto q2 = models::QFormerConfig::from_hf(HfConfig::from_json(q.to_json(), "qformer"));
  EXPECT_EQ(q2.to_json(), q.to_json());
  EXPECT_EQ(q2.cross_attention_freq, 1);
  EXPECT_EQ(q2.bert.hidden_size, 32);
  models::AdapterConfig a;
  a.output_size = 1024;
  EXPECT_EQ(models::AdapterConfig::from_hf(HfConfig::from_json(a.to_json(), "adapter")).output_size, 1024);
}

// Enumerated keys are read and written by name (config/enums.h); another name names the choices.
TEST(ConfigFields, EnumKeysAreReadAndWrittenByName) {
  models::QFormerConfig q = models::QFormerConfig::tiny();
  q.similarity = config::QuerySimilarity::kMean;
  nlohmann::json j = q.to_json();
  EXPECT_EQ(j["similarity"], "mean");
  EXPECT_EQ(models::QFormerConfig::from_hf(HfConfig::from_json(j, "q")).similarity, config::QuerySimilarity::kMean);
  j["similarity"] = "avg";
  try {
    models::QFormerConfig::from_hf(HfConfig::from_json(j, "q.json"));
    FAIL() << "similarity 'avg' was accepted";
  } catch (const FileError& e) {
    EXPECT_EQ(std::string(e.what()), "q.json: key 'similarity': 'avg' is not one of: max, mean");
  }
  EXPECT_EQ(config::to_string(config::Stage::kLm), "lm");
  EXPECT_EQ(config::parse_enum<config::TagSource>("vision_patches"), config::TagSource::kVisionPatches);
  EXPECT_FALSE(config::parse_enum<config::Precision>("fp16").has_value());
  EXPECT_EQ(str(config::Stage::kStage2), "stage2");
}

// Presets are config.json contents read through from_hf: the sizes of the models they name.
TEST(ConfigFields, PresetsKeepTheirSizes) {
  const auto smol = models::DecoderConfig::smollm_135m();
  EXPECT_EQ(smol.model_type, "llama");
  EXPECT_EQ(smol.hidden_size, 576);
  EXPECT_EQ(smol.num_key_value_heads, 3);
  EXPECT_TRUE(smol.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(smol.rope_theta, 10000.0);
  const auto qwen = models::DecoderConfig::qwen3_0_6b();
  EXPECT_EQ(qwen.vocab_size, 151936);
  EXPECT_EQ(qwen.head_dim, 128);
  EXPECT_EQ(qwen.eos_token_id, std::vector<int64_t>{151645});
  EXPECT_EQ(qwen.bos_token_id, 151643);
  const auto tq = models::DecoderConfig::tiny_qwen3();
  EXPECT_EQ(tq.head_dim, 16);
  EXPECT_EQ(tq.num_key_value_heads, 2);
  EXPECT_DOUBLE_EQ(tq.rms_norm_eps, 1e-6);
  const auto tl = models::DecoderConfig::tiny_llama();
  EXPECT_EQ(tl.head_dim, 8);
  EXPECT_EQ(tl.max_position_embeddings, 128);
  EXPECT_FALSE(tl.pad_token_id.has_value());
  for (const auto& c : {smol, qwen, tq, tl}) c.validate();
}

}  // namespace
}  // namespace vlm::test
