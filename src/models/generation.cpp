// Sampling and greedy decoding with the KV cache, after transformers' generation/utils.py and
// logits_process.py (see generation.h).
// Shape letters: B batch, P prompt length, L tokens seen so far, V vocab.
#include "models/generation.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <limits>

#include "core/error.h"

namespace vlm::models {

void GenerationConfig::validate() const {
  if (max_new_tokens < 0) throw ConfigError("generation.max_new_tokens", "must be >= 0");
  if (temperature < 0) throw ConfigError("generation.temperature", "must be >= 0 (0 = greedy)");
  if (top_k < 0) throw ConfigError("generation.top_k", "must be >= 0 (0 = off)");
  if (top_p <= 0 || top_p > 1) throw ConfigError("generation.top_p", str("must be in (0, 1], got ", top_p));
  if (repetition_penalty <= 0)
    throw ConfigError("generation.repetition_penalty", str("must be positive, got ", repetition_penalty), "1.0 = off");
}

at::Tensor apply_repetition_penalty(const at::Tensor& scores, const at::Tensor& seen, double penalty) {
  if (!seen.defined() || seen.numel() == 0 || penalty == 1.0) return scores;
  const at::Tensor ids = seen.to(scores.device(), at::kLong);                   // (B, L)
  const at::Tensor picked = scores.gather(1, ids);                              // (B, L)
  const at::Tensor changed = torch::where(picked.lt(0), picked * penalty, picked / penalty);
  return scores.scatter(1, ids, changed);                                       // (B, V)
}

at::Tensor top_k_filter(const at::Tensor& scores, int64_t k) {
  if (k <= 0) return scores;
  k = std::min<int64_t>(k, scores.size(-1));
  const at::Tensor kth = std::get<0>(scores.topk(k, -1)).narrow(-1, k - 1, 1);  // (B, 1)
  return scores.masked_fill(scores.lt(kth), -std::numeric_limits<float>::infinity());
}

at::Tensor top_p_filter(const at::Tensor& scores, double p) {
  if (p >= 1.0) return scores;
  const auto [sorted, order] = scores.sort(-1, /*descending=*/false);           // (B, V) ascending
  const at::Tensor cumulative = sorted.softmax(-1).cumsum(-1);                  // (B, V)
  at::Tensor remove_sorted = cumulative.le(1.0 - p);
  remove_sorted.narrow(-1, remove_sorted.size(-1) - 1, 1).fill_(false);        // keep the most likely token
  const at::Tensor remove = remove_sorted.scatter(-1, order, remove_sorted);
  return scores.masked_fill(remove, -std::numeric_limits<float>::infinity());
}

namespace {

GenerationOutput run(DecoderLMImpl& lm, DecoderInput first, const at::Tensor& prompt_mask, int64_t batch,
                     const GenerationConfig& cfg, at::Tensor seen) {
  cfg.validate();
  torch::NoGradGuard no_grad;
  const auto device = lm.embed_tokens->weight.device();
  const auto long_opts = torch::TensorOptions().dtype(at::kLong).device(device);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(cfg.seed);

  GenerationOutput out;
  out.tokens.resize(static_cast<size_t>(batch));
  if (cfg.max_new_tokens == 0) {
    out.sequences = torch::empty({batch, 0}, long_opts);
    return out;
  }
  at::Tensor mask = prompt_mask;  // (B, P + steps)
  KVCache cache = lm.new_cache();
  first.attention_mask = mask;
  first.cache = &cache;
  first.logits_to_keep = 1;
  DecoderOutput step = lm.forward(first);

  at::Tensor unfinished = torch::ones({batch}, long_opts.dtype(at::kBool));
  std::vector<at::Tensor> columns;
  for (int64_t n = 0; n < cfg.max_new_tokens; ++n) {
    const at::Tensor logits = step.logits.select(1, -1).to(at::kFloat);  // (B, V)
    if (cfg.return_logits) out.step_logits.push_back(logits.clone());
    at::Tensor scores = apply_repetition_penalty(logits, seen, cfg.repetition_penalty);
    at::Tensor next;  // (B)
    if (cfg.temperature > 0) {
      scores = top_p_filter(top_k_filter(scores / cfg.temperature, cfg.top_k), cfg.top_p);
      const at::Tensor probs = scores.softmax(-1).to(at::kCPU);  // (B, V)
      next = torch::multinomial(probs, /*num_samples=*/1, /*replacement=*/false, gen).squeeze(1).to(device);
    } else {
      next = scores.argmax(-1);
    }
    next = torch::where(unfinished, next, torch::full_like(next, cfg.pad_token_id));
    columns.push_back(next);
    seen = seen.defined() ? torch::cat({seen.to(device), next.unsqueeze(1)}, 1) : next.unsqueeze(1);  // (B, L + 1)

    const at::Tensor next_cpu = next.to(at::kCPU), unfinished_cpu = unfinished.to(at::kCPU);
    for (int64_t b = 0; b < batch; ++b)
      if (unfinished_cpu[b].item<bool>()) out.tokens[static_cast<size_t>(b)].push_back(next_cpu[b].item<int64_t>());
    for (int64_t id : cfg.eos_token_ids) unfinished = unfinished.logical_and(next.ne(id));
    if (!unfinished.any().item<bool>() || n + 1 == cfg.max_new_tokens) break;

    mask = torch::cat({mask, torch::ones({batch, 1}, long_opts)}, 1);  // (B, P + n + 1)
    step = lm.forward({.input_ids = next.unsqueeze(1), .attention_mask = mask, .cache = &cache, .logits_to_keep = 1});
  }
  out.sequences = torch::stack(columns, 1);  // (B, N)
  return out;
}

at::Tensor mask_or_ones(const at::Tensor& mask, int64_t batch, int64_t length, c10::Device device) {
  if (mask.defined()) {
    TORCH_CHECK(mask.dim() == 2 && mask.size(0) == batch && mask.size(1) == length, "attention_mask is ",
                mask.sizes(), ", expected (", batch, ", ", length, ")");
    return mask.to(device, at::kLong);
  }
  return torch::ones({batch, length}, torch::TensorOptions().dtype(at::kLong).device(device));
}

}  // namespace

GenerationOutput generate(DecoderLMImpl& lm, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                          const GenerationConfig& cfg) {
  TORCH_CHECK(input_ids.dim() == 2 && input_ids.size(1) > 0, "input_ids must be (B, P) with P > 0, got ",
              input_ids.sizes());
  const auto device = lm.embed_tokens->weight.device();
  const at::Tensor ids = input_ids.to(device, at::kLong);
  const at::Tensor mask = mask_or_ones(attention_mask, ids.size(0), ids.size(1), device);
  return run(lm, {.input_ids = ids}, mask, ids.size(0), cfg, ids);
}

GenerationOutput generate_from_embeds(DecoderLMImpl& lm, const at::Tensor& inputs_embeds,
                                      const at::Tensor& attention_mask, const GenerationConfig& cfg,
                                      const at::Tensor& penalty_ids) {
  TORCH_CHECK(inputs_embeds.dim() == 3 && inputs_embeds.size(1) > 0, "inputs_embeds must be (B, P, D), got ",
              inputs_embeds.sizes());
  const auto device = lm.embed_tokens->weight.device();
  const at::Tensor mask = mask_or_ones(attention_mask, inputs_embeds.size(0), inputs_embeds.size(1), device);
  const at::Tensor seen = penalty_ids.defined() && penalty_ids.numel() > 0 ? penalty_ids.to(device, at::kLong) : at::Tensor();
  return run(lm, {.inputs_embeds = inputs_embeds.to(device)}, mask, inputs_embeds.size(0), cfg, seen);
}

}  // namespace vlm::models
