// Autoregressive generation with the KV cache for DecoderLM, batched with left padding, following
// transformers' generation/utils.py `_sample` and logits_process.py: repetition penalty (processor),
// then temperature, top-k and top-p (warpers), greedy argmax at temperature 0, finished rows padded.
// Sampling draws from its own seeded CPU torch::Generator, so a seed gives the same tokens anywhere.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "models/decoder.h"

namespace vlm::models {

// Shape letters: B batch, P prompt length, N new tokens, V vocab.

struct GenerationConfig {
  int64_t max_new_tokens = 20;          // e.g. 100
  double temperature = 0.0;             // e.g. 0.7; 0 = greedy (argmax)
  int64_t top_k = 0;                    // e.g. 50; 0 = off
  double top_p = 1.0;                   // e.g. 0.9; 1 = off
  double repetition_penalty = 1.0;      // e.g. 1.2; 1 = off
  std::vector<int64_t> eos_token_ids;   // e.g. {2, <|im_end|>}: a row stops after emitting one of them
  int64_t pad_token_id = 0;             // written after a row has finished
  uint64_t seed = 0;                    // sampling seed
  bool return_logits = false;           // keep every step's raw logits (B, V) in fp32
  void validate() const;                // throws ConfigError
};

struct GenerationOutput {
  std::vector<std::vector<int64_t>> tokens;  // per row: the new tokens up to and including its EOS
  at::Tensor sequences;                      // (B, N) int64 new tokens, pad after EOS
  std::vector<at::Tensor> step_logits;       // N x (B, V) fp32 raw model logits (return_logits)
};

// Prompt as ids (B, P) with attention_mask (B, P) (1 = token; left padding; undefined = all tokens).
// The repetition penalty covers the whole prompt (padding included, as transformers).
GenerationOutput generate(DecoderLMImpl& lm, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                          const GenerationConfig& cfg);
// Prompt as embeddings (B, P, D) with mask (B, P): the VLM's image tokens + prompt. `penalty_ids`
// (B, L), optional, are the prompt ids the repetition penalty also covers (transformers: none).
GenerationOutput generate_from_embeds(DecoderLMImpl& lm, const at::Tensor& inputs_embeds,
                                      const at::Tensor& attention_mask, const GenerationConfig& cfg,
                                      const at::Tensor& penalty_ids = {});

// Logit processors on (B, V) fp32 scores, exposed for tests.
// transformers' RepetitionPenaltyLogitsProcessor: for every id in `seen` (B, L), a score s becomes
// s / penalty when s > 0 and s * penalty otherwise.
at::Tensor apply_repetition_penalty(const at::Tensor& scores, const at::Tensor& seen, double penalty);
// TopKLogitsWarper: scores below the k-th largest become -inf.
at::Tensor top_k_filter(const at::Tensor& scores, int64_t k);
// TopPLogitsWarper: keep the smallest set of most likely tokens whose probability reaches p (at least one).
at::Tensor top_p_filter(const at::Tensor& scores, double p);

}  // namespace vlm::models
