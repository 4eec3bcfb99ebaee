// The Llama / Qwen3 decoder: config reading, strict loading of HF-layout folders (tied and untied
// heads, bf16 files), hand-derived RMSNorm and RoPE values, GQA == MHA with repeated heads,
// gradients vs central differences, left padding == one by one, KV cache == full recompute.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "unit/decoder/decoder_test_util.h"
#include "test_util.h"

namespace vlm::test {
namespace {

using models::DecoderConfig;
using models::DecoderLM;

TEST(DecoderConfig, ReadsHfFieldsAndDefaults) {
  TempDir dir;
  models::write_config_json(dir.path() + "/config.json",
                            {{"model_type", "llama"}, {"hidden_size", 576}, {"num_attention_heads", 9},
                             {"num_key_value_heads", 3}, {"intermediate_size", 1536}, {"num_hidden_layers", 30},
                             {"vocab_size", 49152}, {"tie_word_embeddings", true}, {"eos_token_id", 0},
                             {"rope_scaling", nullptr}, {"rms_norm_eps", 1e-5}});
  const auto cfg = DecoderConfig::from_json(dir.path());
  EXPECT_EQ(cfg.head_dim, 64);  // hidden_size / heads when absent
  EXPECT_EQ(cfg.num_key_value_heads, 3);
  EXPECT_EQ(cfg.rope_scaling.rope_type, "default");
  EXPECT_DOUBLE_EQ(cfg.rope_theta, 10000.0);
  EXPECT_EQ(cfg.eos_token_id, std::vector<int64_t>{0});
  EXPECT_TRUE(cfg.tie_word_embeddings);

  models::write_config_json(dir.path() + "/config.json",
                            {{"model_type", "qwen3"}, {"head_dim", 128}, {"eos_token_id", {151645, 151643}},
                             {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}}});
  const auto q = DecoderConfig::from_json(dir.path());
  EXPECT_EQ(q.vocab_size, 151936);  // Qwen3Config's default
  EXPECT_EQ(q.head_dim, 128);
  EXPECT_EQ(q.rope_scaling.rope_type, "llama3");
  EXPECT_EQ(q.eos_token_id.size(), 2u);
}

TEST(DecoderConfig, ValidateRejectsContradictions) {
  auto cfg = DecoderConfig::tiny_llama();
  cfg.num_key_value_heads = 3;  // does not divide 4
  EXPECT_THROW(cfg.validate(), ConfigError);
  cfg = DecoderConfig::tiny_llama();
  cfg.rope_scaling.rope_type = "yarn";
  EXPECT_THROW(cfg.validate(), ConfigError);
  cfg = DecoderConfig::tiny_llama();
  cfg.hidden_act = "gelu";
  EXPECT_THROW(cfg.validate(), ConfigError);
}

TEST(DecoderBlocks, RmsNormOfKnownVector) {
  // x = (3, 4): mean(x^2) = 12.5, so x / sqrt(12.5 + eps) * w.
  const auto x = torch::tensor({3.0, 4.0}, torch::kDouble);
  const auto w = torch::tensor({2.0, 0.5}, torch::kDouble);
  const double eps = 1e-6, r = 1.0 / std::sqrt(12.5 + eps);
  EXPECT_TRUE(all_close(models::rms_norm(x, w, eps), torch::tensor({6.0 * r, 2.0 * r}, torch::kDouble), kHandTol));
}

TEST(DecoderBlocks, RopeRotatesPairsAtKnownPosition) {
  auto cfg = DecoderConfig::tiny_llama();
  cfg.head_dim = 4;
  const auto inv = models::rope_inv_freq(cfg);  // 1, 1/100
  EXPECT_TRUE(all_close(inv, torch::tensor({1.0, 0.01}, torch::kDouble), 1e-12));
  const auto x = torch::tensor({1.0, 2.0, 3.0, 4.0}, torch::kDouble).view({1, 1, 1, 4});  // (B, H, T, Dh)
  const auto pos = torch::full({1, 1}, 3, torch::kLong);
  const double a = 3.0, b = 0.03;
  const auto expected = torch::tensor({1 * std::cos(a) - 3 * std::sin(a), 2 * std::cos(b) - 4 * std::sin(b),
                                       3 * std::cos(a) + 1 * std::sin(a), 4 * std::cos(b) + 2 * std::sin(b)},
                                      torch::kDouble);
  EXPECT_TRUE(all_close(models::apply_rope(x, pos, inv).flatten(), expected, kHandTol));
  // Position 0 is the identity.
  EXPECT_TRUE(all_close(models::apply_rope(x, torch::zeros({1, 1}, torch::kLong), inv), x, kHandTol));
}

TEST(DecoderBlocks, RopeScalingLinearAndLlama3) {
  auto cfg = DecoderConfig::tiny_llama();
  cfg.head_dim = 6;
  const double f0 = 1.0, f1 = std::pow(10000.0, -2.0 / 6), f2 = std::pow(10000.0, -4.0 / 6);
  cfg.rope_scaling.rope_type = "linear";
  cfg.rope_scaling.factor = 2.0;
  EXPECT_TRUE(all_close(models::rope_inv_freq(cfg), torch::tensor({f0 / 2, f1 / 2, f2 / 2}, torch::kDouble), 1e-12));

  // llama3 with an original context of 256: wavelengths 6.3 (high frequency: kept), 135 (between
  // 256/4 and 256/1: smoothed), 2916 (low frequency: divided by the factor).
  cfg.rope_scaling = {.rope_type = "llama3", .factor = 8.0, .low_freq_factor = 1.0, .high_freq_factor = 4.0,
                      .original_max_position_embeddings = 256};
  const double wavelen1 = 2 * M_PI / f1;
  const double s = (256.0 / wavelen1 - 1.0) / (4.0 - 1.0);
  const double smoothed = (1 - s) * f1 / 8.0 + s * f1;
  EXPECT_TRUE(all_close(models::rope_inv_freq(cfg), torch::tensor({f0, smoothed, f2 / 8.0}, torch::kDouble), 1e-12));
}

TEST(DecoderLoad, TiedUntiedAndQwen3FoldersLoadStrictly) {
  for (const auto& [cfg0, tied] : {std::pair{DecoderConfig::tiny_llama(), false}, std::pair{DecoderConfig::tiny_llama(), true},
                                   std::pair{DecoderConfig::tiny_qwen3(), false}, std::pair{DecoderConfig::tiny_qwen3(), true}}) {
    auto cfg = cfg0;
    cfg.tie_word_embeddings = tied;
    SCOPED_TRACE(cfg.model_type + (tied ? " tied" : " untied"));
    DecoderLM ref = random_lm(cfg, 1);
    TempDir dir;
    write_lm_folder(dir.path(), *ref, at::kFloat);
    const auto store = io::TensorStore::open(dir.path());
    EXPECT_EQ(store.contains("lm_head.weight"), !tied);
    EXPECT_EQ(store.contains("model.layers.0.self_attn.q_norm.weight"), cfg.qwen3());
    EXPECT_TRUE(store.contains("model.layers.1.mlp.gate_proj.weight"));
    EXPECT_TRUE(store.contains("model.norm.weight"));

    auto loaded = models::load_decoder(dir.path());
    const auto ids = random_ids(2, 7, cfg.vocab_size, 2);
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(all_close(loaded.model->forward({.input_ids = ids}).logits, ref->forward({.input_ids = ids}).logits, 0.0));
    if (tied) {
      EXPECT_TRUE(loaded.model->lm_head.is_empty());
    }
  }
}

TEST(DecoderLoad, TiedHeadInFileIsSkippedAndMissingTensorIsNamed) {
  auto cfg = DecoderConfig::tiny_llama();
  cfg.tie_word_embeddings = true;
  DecoderLM ref = random_lm(cfg, 3);
  TempDir dir;
  write_lm_folder(dir.path(), *ref, at::kFloat, {{"lm_head.weight", ref->embed_tokens->weight.detach().clone()}});
  EXPECT_NO_THROW(models::load_decoder(dir.path()));

  // Untied config over a tied file: lm_head.weight is missing and the error says so.
  auto untied = cfg;
  untied.tie_word_embeddings = false;
  TempDir dir2;
  write_lm_folder(dir2.path(), *ref, at::kFloat);
  models::write_config_json(dir2.path() + "/config.json", untied.to_json());
  try {
    models::load_decoder(dir2.path());
    FAIL() << "expected a FileError";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("missing: lm_head.weight [100, 32]"), std::string::npos) << e.what();
  }
}

TEST(DecoderLoad, Bf16FileIntoFp32AndKeptBf16) {
  DecoderLM ref = random_lm(DecoderConfig::tiny_qwen3(), 4);
  TempDir dir;
  write_lm_folder(dir.path(), *ref, at::kBFloat16);
  {  // The same model with its weights rounded to bf16 is the reference.
    torch::NoGradGuard no_grad;
    for (auto& p : ref->parameters()) p.copy_(p.to(at::kBFloat16).to(at::kFloat));
  }
  const auto ids = random_ids(2, 6, 100, 5);
  torch::NoGradGuard no_grad;
  const auto expected = ref->forward({.input_ids = ids}).logits;
  auto fp32 = models::load_decoder(dir.path());
  EXPECT_EQ(fp32.model->embed_tokens->weight.scalar_type(), at::kFloat);
  EXPECT_TRUE(all_close(fp32.model->forward({.input_ids = ids}).logits, expected, 0.0));
  auto bf16 = models::load_decoder(dir.path(), at::kBFloat16);
  EXPECT_EQ(bf16.model->layers[0]->self_attn->q_proj->weight.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(nmse_below(bf16.model->forward({.input_ids = ids}).logits, expected, kBf16Nmse));
}

TEST(DecoderNumerics, GqaEqualsMhaWithRepeatedKvHeads) {
  auto gqa_cfg = DecoderConfig::tiny_llama();  // 4 heads, 2 kv heads
  auto mha_cfg = gqa_cfg;
  mha_cfg.num_key_value_heads = 4;
  DecoderLM gqa = random_lm(gqa_cfg, 6);
  DecoderLM mha = random_lm(mha_cfg, 7);
  torch::NoGradGuard no_grad;
  auto src = gqa->named_parameters(), dst = mha->named_parameters();
  const int64_t Dh = gqa_cfg.head_dim, D = gqa_cfg.hidden_size;
  for (const auto& item : src) {
    at::Tensor value = item.value();
    if (item.key().find("k_proj.weight") != std::string::npos || item.key().find("v_proj.weight") != std::string::npos)
      value = value.view({2, 1, Dh, D}).expand({2, 2, Dh, D}).reshape({4 * Dh, D});  // kv head h serves heads 2h, 2h+1
    dst[item.key()].copy_(value);
  }
  const auto ids = random_ids(2, 9, 100, 8);
  EXPECT_TRUE(all_close(gqa->forward({.input_ids = ids}).logits, mha->forward({.input_ids = ids}).logits, kCacheTol));
}

TEST(DecoderNumerics, GradientsMatchCentralDifferences) {
  for (auto cfg : {DecoderConfig::tiny_llama(), DecoderConfig::tiny_qwen3()}) {
    SCOPED_TRACE(cfg.model_type);
    cfg.num_hidden_layers = 1;
    cfg.attention_bias = true;
    DecoderLM lm = random_lm(cfg, 9);
    lm->to(torch::kDouble);
    lm->train();
    const auto ids = random_ids(2, 5, cfg.vocab_size, 10);
    const auto mask = torch::tensor({{0, 1, 1, 1, 1}, {1, 1, 1, 1, 1}}, torch::kLong);
    torch::manual_seed(11);
    const auto proj = torch::randn({2, 5, cfg.vocab_size}, torch::kDouble);
    check_gradients(*lm, [&] { return (lm->forward({.input_ids = ids, .attention_mask = mask}).logits * proj).sum(); },
                    /*per_param=*/2);
  }
}

TEST(DecoderNumerics, LeftPaddedBatchEqualsOneByOne) {
  for (const auto& cfg : {DecoderConfig::tiny_llama(), DecoderConfig::tiny_qwen3()}) {
    SCOPED_TRACE(cfg.model_type);
    DecoderLM lm = random_lm(cfg, 12);
    const auto a = random_ids(1, 6, 100, 13), b = random_ids(1, 3, 100, 14);
    const auto ids = torch::cat({a, torch::cat({torch::zeros({1, 3}, torch::kLong), b}, 1)}, 0);
    const auto mask = torch::tensor({{1, 1, 1, 1, 1, 1}, {0, 0, 0, 1, 1, 1}}, torch::kLong);
    torch::NoGradGuard no_grad;
    const auto batch = lm->forward({.input_ids = ids, .attention_mask = mask}).logits;
    EXPECT_TRUE(all_close(batch[0], lm->forward({.input_ids = a}).logits[0], kCacheTol));
    EXPECT_TRUE(all_close(batch[1].slice(0, 3), lm->forward({.input_ids = b}).logits[0], kCacheTol));
    EXPECT_TRUE(batch.isfinite().all().item<bool>());  // padded rows stay finite
  }
}

TEST(DecoderNumerics, KvCacheEqualsFullRecompute) {
  for (const auto& cfg : {DecoderConfig::tiny_llama(), DecoderConfig::tiny_qwen3()}) {
    SCOPED_TRACE(cfg.model_type);
    DecoderLM lm = random_lm(cfg, 15);
    const auto ids = random_ids(2, 9, 100, 16);
    const auto mask = torch::tensor({{0, 0, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1}}, torch::kLong);
    torch::NoGradGuard no_grad;
    const auto full = lm->forward({.input_ids = ids, .attention_mask = mask}).logits;
    for (bool with_mask : {true, false}) {
      const auto m = with_mask ? mask : torch::ones_like(mask);
      const auto reference = with_mask ? full : lm->forward({.input_ids = ids}).logits;
      models::KVCache cache;
      // Prefill 5 tokens, then 2 tokens, then one at a time; the mask grows with the cache.
      auto out = lm->forward({.input_ids = ids.slice(1, 0, 5), .attention_mask = m.slice(1, 0, 5), .cache = &cache});
      EXPECT_TRUE(all_close(out.logits, reference.slice(1, 0, 5), kCacheTol));
      out = lm->forward({.input_ids = ids.slice(1, 5, 7), .attention_mask = m.slice(1, 0, 7), .cache = &cache});
      EXPECT_TRUE(all_close(out.logits, reference.slice(1, 5, 7), kCacheTol));
      for (int64_t t = 7; t < 9; ++t) {
        out = lm->forward({.input_ids = ids.slice(1, t, t + 1),
                           .attention_mask = with_mask ? m.slice(1, 0, t + 1) : at::Tensor(),
                           .cache = &cache,
                           .logits_to_keep = 1});
        EXPECT_TRUE(all_close(out.logits, reference.slice(1, t, t + 1), kCacheTol)) << "step " << t;
      }
      EXPECT_EQ(cache.length(), 9);
    }
  }
}

TEST(DecoderNumerics, InputsEmbedsEqualsInputIds) {
  DecoderLM lm = random_lm(DecoderConfig::tiny_llama(), 17);
  const auto ids = random_ids(2, 5, 100, 18);
  torch::NoGradGuard no_grad;
  const auto by_ids = lm->forward({.input_ids = ids}).logits;
  EXPECT_TRUE(all_close(lm->forward({.inputs_embeds = lm->embed(ids)}).logits, by_ids, 0.0));
  EXPECT_THROW(lm->forward({.input_ids = ids, .inputs_embeds = lm->embed(ids)}), c10::Error);
}

TEST(DecoderNumerics, SaveLoadRoundTrip) {
  DecoderLM lm = random_lm(DecoderConfig::tiny_qwen3(), 19);
  TempDir dir;
  models::save_decoder(*lm, dir.path());
  auto loaded = models::load_decoder(dir.path());
  const auto ids = random_ids(1, 4, 100, 20);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(all_close(loaded.model->forward({.input_ids = ids}).logits, lm->forward({.input_ids = ids}).logits, 0.0));
}

}  // namespace
}  // namespace vlm::test
