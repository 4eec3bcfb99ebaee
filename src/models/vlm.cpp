#include "models/vlm.h"

namespace vlm::models {

VisionLanguageModelImpl::VisionLanguageModelImpl(ViTModel v, QFormer q, Adapter a, DecoderLM l)
    : vision(register_module("vision", std::move(v))),
      qformer(register_module("qformer", std::move(q))),
      adapter(register_module("adapter", std::move(a))),
      lm(register_module("lm", std::move(l))) {
  for (auto& p : vision->parameters()) p.set_requires_grad(false);
}

at::Tensor VisionLanguageModelImpl::image_tokens(const at::Tensor& pixel_values) {
  at::Tensor feats;
  {
    torch::NoGradGuard no_grad;
    vision->eval();
    feats = vision->forward(pixel_values);  // (B, 1 + P, Dv)
  }
  const at::Tensor queries = qformer->forward_image(feats);  // (B, Q, Dq)
  return adapter->forward(queries);                          // (B, Q, D)
}

at::Tensor move_prompt_padding_first(const at::Tensor& x, const at::Tensor& prompt_mask, int64_t Q) {
  const int64_t B = prompt_mask.size(0), Tp = prompt_mask.size(1), L = x.size(1);
  const auto pads = (prompt_mask == 0).sum(1).to(torch::kCPU);  // (B,)
  auto order = torch::empty({B, L}, torch::kLong);
  auto o = order.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = pads[b].item<int64_t>();
    int64_t k = 0;
    for (int64_t i = 0; i < n; ++i) o[b][k++] = Q + i;     // the prompt's left pads
    for (int64_t i = 0; i < Q; ++i) o[b][k++] = i;         // image tokens
    for (int64_t i = Q + n; i < L; ++i) o[b][k++] = i;     // prompt tokens, then target
  }
  (void)Tp;
  order = order.to(x.device());
  if (x.dim() == 2) return x.gather(1, order);                                    // (B, L)
  return x.gather(1, order.unsqueeze(-1).expand({B, L, x.size(2)}));             // (B, L, D)
}

VlmSequence VisionLanguageModelImpl::build(const VlmBatch& batch) {
  const at::Tensor image = image_tokens(batch.pixel_values);  // (B, Q, D)
  const int64_t B = image.size(0), Q = image.size(1);
  const at::Tensor prompt = lm->embed(batch.prompt_ids).to(image.scalar_type());  // (B, Tp, D)
  std::vector<at::Tensor> parts = {image, prompt};
  std::vector<at::Tensor> masks = {torch::ones({B, Q}, batch.prompt_mask.options()), batch.prompt_mask};
  std::vector<at::Tensor> labels = {torch::full({B, Q + batch.prompt_ids.size(1)}, -100, batch.prompt_ids.options())};
  if (batch.target_ids.defined() && batch.target_ids.size(1) > 0) {
    parts.push_back(lm->embed(batch.target_ids).to(image.scalar_type()));  // (B, Tt, D)
    masks.push_back(batch.target_mask);
    labels.push_back(batch.target_ids.masked_fill(batch.target_mask == 0, -100));
  }
  VlmSequence seq;
  seq.embeds = move_prompt_padding_first(torch::cat(parts, 1), batch.prompt_mask, Q);  // (B, L, D)
  seq.mask = move_prompt_padding_first(torch::cat(masks, 1), batch.prompt_mask, Q);    // (B, L)
  seq.labels = move_prompt_padding_first(torch::cat(labels, 1), batch.prompt_mask, Q); // (B, L)
  return seq;
}

std::pair<at::Tensor, at::Tensor> VisionLanguageModelImpl::logits_and_labels(const VlmBatch& batch) {
  const VlmSequence seq = build(batch);
  DecoderInput in;
  in.inputs_embeds = seq.embeds;
  in.attention_mask = seq.mask;
  return {lm->forward(in).logits, seq.labels};  // (B, L, V), (B, L)
}

GenerationOutput VisionLanguageModelImpl::generate(const VlmBatch& batch, const GenerationConfig& config) {
  VlmBatch prefix = batch;
  prefix.target_ids = at::Tensor();
  prefix.target_mask = at::Tensor();
  const VlmSequence seq = build(prefix);
  // As transformers' generate(inputs_embeds=...): the repetition penalty covers generated tokens only.
  return generate_from_embeds(*lm, seq.embeds, seq.mask, config);
}

}  // namespace vlm::models
