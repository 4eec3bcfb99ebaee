// Helpers for the decoder tests: tiny Llama / Qwen3 models written as HF-layout folders
// (config.json + model.safetensors) by the test itself, and fixed token batches.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "models/decoder.h"
#include "models/hf_config.h"
#include "unit/encoders/encoder_test_util.h"

namespace vlm::test {

// Tolerances of these tests (fp32 unless stated), in one place.
inline constexpr double kCacheTol = 1e-5;  // max|d| of logits: KV cache / padding / batching vs recompute
inline constexpr double kMergeTol = 1e-5;  // max|d| of logits: merged vs unmerged LoRA
inline constexpr double kHandTol = 1e-6;   // max|d| against hand-derived double values

// A random tiny LM whose norm weights are not all ones (so loading mistakes show).
inline models::DecoderLM random_lm(const models::DecoderConfig& cfg, uint64_t seed) {
  torch::manual_seed(seed);
  models::DecoderLM lm(cfg);
  torch::NoGradGuard no_grad;
  for (auto& p : lm->parameters()) p.add_(torch::randn_like(p) * 0.05);
  lm->eval();
  return lm;
}

// Writes the model as transformers' save_pretrained would: config.json + model.safetensors with the
// HF names, in `dtype` (float32 or bfloat16). `extra` tensors are added to the file as they are.
inline void write_lm_folder(const std::string& dir, models::DecoderLMImpl& lm, at::ScalarType dtype,
                            std::vector<std::pair<std::string, at::Tensor>> extra = {}) {
  std::filesystem::create_directories(dir);
  auto cfg = lm.config();
  cfg.torch_dtype = dtype == at::kBFloat16 ? "bfloat16" : "float32";
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : lm.named_parameters()) tensors.emplace_back(p.key(), p.value().detach().to(dtype).clone());
  for (auto& e : extra) tensors.push_back(std::move(e));
  write_hf_folder(dir, cfg.to_json(), tensors);
}

// Token ids in [3, vocab) (0 pad, 1 bos, 2 eos stay out of random prompts).
inline at::Tensor random_ids(int64_t batch, int64_t length, int64_t vocab, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(3, vocab, {batch, length}, torch::kLong);
}

}  // namespace vlm::test
