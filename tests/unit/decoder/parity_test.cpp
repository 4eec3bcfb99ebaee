// Parity with transformers / PEFT: tests/fixtures/parity/<family>/ holds a tiny random HF model,
// fixed inputs and transformers' outputs, written by tools/parity/make_fixtures.py on a machine with
// transformers + peft. Each family present is compared in fp32 (max|d| <= 1e-4 on non-padding
// positions, greedy tokens equal); an absent folder skips with the command that makes it.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/tensor_store.h"
#include "models/bert.h"
#include "models/generation.h"
#include "models/peft.h"
#include "models/vit.h"
#include "test_util.h"
#include "unit/decoder/decoder_test_util.h"

namespace vlm::test {
namespace {

constexpr double kParityTol = 1e-4;  // fp32 max|d| against transformers

std::string family_dir(const std::string& family) { return fixture("parity/" + family); }

#define SKIP_IF_ABSENT(family)                                                                                \
  if (!std::filesystem::exists(family_dir(family) + "/outputs.safetensors"))                                \
  GTEST_SKIP() << "no parity fixture at " << family_dir(family)                                             \
               << ": run `python3 tools/parity/make_fixtures.py` on a machine with transformers and peft"

// Rows (B, T, ...) compared on the positions where mask (B, T) is 1.
::testing::AssertionResult close_on_tokens(const at::Tensor& actual, const at::Tensor& expected, const at::Tensor& mask) {
  const auto keep = mask.to(at::kBool);
  return all_close(actual.index({keep}), expected.index({keep}), kParityTol);
}

TEST(Parity, Vit) {
  SKIP_IF_ABSENT("vit");
  const auto in = io::TensorStore::open(family_dir("vit") + "/inputs.safetensors");
  const auto ref = io::TensorStore::open(family_dir("vit") + "/outputs.safetensors");
  auto vit = models::load_vit(family_dir("vit"));
  torch::NoGradGuard no_grad;
  const auto hidden = vit.model->forward(in.get("pixel_values").clone());
  EXPECT_TRUE(all_close(hidden, ref.get("last_hidden_state"), kParityTol));
  if (ref.contains("pooler_output")) {
    EXPECT_TRUE(all_close(vit.model->pool(hidden), ref.get("pooler_output"), kParityTol));
  }
}

void text_encoder_parity(const std::string& family) {
  const auto in = io::TensorStore::open(family_dir(family) + "/inputs.safetensors");
  const auto ref = io::TensorStore::open(family_dir(family) + "/outputs.safetensors");
  auto enc = models::load_text_encoder(family_dir(family));
  EXPECT_EQ(enc.model_type, family);
  torch::NoGradGuard no_grad;
  const auto mask = in.get("attention_mask").clone();
  const auto hidden = enc.model->forward(in.get("input_ids").clone(), mask);
  EXPECT_TRUE(close_on_tokens(hidden, ref.get("last_hidden_state"), mask));
  if (ref.contains("pooler_output")) {
    EXPECT_TRUE(all_close(enc.model->pool(hidden), ref.get("pooler_output"), kParityTol));
  }
}

TEST(Parity, DistilBert) {
  SKIP_IF_ABSENT("distilbert");
  text_encoder_parity("distilbert");
}

TEST(Parity, Bert) {
  SKIP_IF_ABSENT("bert");
  text_encoder_parity("bert");
}

void causal_lm_parity(const std::string& model_family, const std::string& outputs_family, bool with_adapter) {
  const auto in = io::TensorStore::open(family_dir(outputs_family) + "/inputs.safetensors");
  const auto ref = io::TensorStore::open(family_dir(outputs_family) + "/outputs.safetensors");
  auto lm = models::load_decoder(family_dir(model_family));
  if (with_adapter) {
    models::load_peft_adapter(*lm.model, family_dir(outputs_family));
    lm.model->eval();
  }
  const auto ids = in.get("input_ids").clone(), mask = in.get("attention_mask").clone();
  {
    torch::NoGradGuard no_grad;
    const auto out = lm.model->forward({.input_ids = ids, .attention_mask = mask});
    EXPECT_TRUE(close_on_tokens(out.last_hidden_state, ref.get("last_hidden_state"), mask));
    EXPECT_TRUE(close_on_tokens(out.logits, ref.get("logits"), mask));
  }
  models::GenerationConfig cfg{.max_new_tokens = 8, .eos_token_ids = {2}, .pad_token_id = 0};
  const auto gen = models::generate(*lm.model, ids, mask, cfg);
  EXPECT_TRUE(gen.sequences.equal(ref.get("greedy_tokens"))) << "ours\n" << gen.sequences << "\ntransformers\n"
                                                             << ref.get("greedy_tokens");
}

TEST(Parity, Llama) {
  SKIP_IF_ABSENT("llama");
  causal_lm_parity("llama", "llama", false);
}

TEST(Parity, Qwen3) {
  SKIP_IF_ABSENT("qwen3");
  causal_lm_parity("qwen3", "qwen3", false);
}

TEST(Parity, LlamaWithPeftLoraAdapter) {
  SKIP_IF_ABSENT("llama_lora");
  causal_lm_parity("llama", "llama_lora", true);
}

}  // namespace
}  // namespace vlm::test
