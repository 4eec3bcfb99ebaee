#include "models/vlm.h"

namespace vlm::models {

VisionLanguageModelImpl::VisionLanguageModelImpl(ViTModel v, QFormer q, Adapter a, DecoderLM l)
    : vision(register_module("vision", std::move(v))),
      qformer(register_module("qformer", std::move(q))),
      adapter(register_module("adapter", std::move(a))),
      lm(register_module("lm", std::move(l))) {
  set_train_vision(false);
}

void VisionLanguageModelImpl::set_train_vision(bool train) {
  for (auto& p : vision->parameters()) p.set_requires_grad(train);
}

at::Tensor VisionLanguageModelImpl::image_tokens(const at::Tensor& pixel_values) {
  return image_tokens_from_features(vision_features(*vision, pixel_values));  // (B, 1 + P, Dv) -> (B, Q, D)
}

at::Tensor VisionLanguageModelImpl::image_tokens_from_features(const at::Tensor& features) {
  const at::Tensor queries = qformer->forward_image(features);  // (B, Q, Dq)
  return adapter->forward(queries);                             // (B, Q, D)
}

at::Tensor move_prompt_padding_first(const at::Tensor& x, const at::Tensor& prompt_mask, int64_t Q) {
  // Row b with n left pads: position j takes element Q + j for j < n (the pads), j - n for
  // n <= j < n + Q (the image tokens), j after that. Computed on x's device: no host round trip,
  // so a GPU step neither waits here nor breaks a CUDA graph capture.
  const int64_t B = prompt_mask.size(0), L = x.size(1);
  const at::Tensor n = (prompt_mask == 0).sum(1, /*keepdim=*/true).to(x.device(), torch::kLong);  // (B, 1)
  const at::Tensor j = torch::arange(L, torch::TensorOptions(torch::kLong).device(x.device())).unsqueeze(0);  // (1, L)
  const at::Tensor order = torch::where(j < n, j + Q, torch::where(j < n + Q, j - n, j));  // (B, L)
  if (x.dim() == 2) return x.gather(1, order);                                    // (B, L)
  return x.gather(1, order.unsqueeze(-1).expand({B, L, x.size(2)}));             // (B, L, D)
}

VlmSequence VisionLanguageModelImpl::build(const VlmBatch& batch) {
  const at::Tensor image = batch.vision_features.defined() ? image_tokens_from_features(batch.vision_features)
                                                           : image_tokens(batch.pixel_values);  // (B, Q, D)
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

std::pair<at::Tensor, at::Tensor> VisionLanguageModelImpl::target_logits_and_labels(const VlmBatch& batch) {
  TORCH_CHECK(batch.target_ids.defined() && batch.target_ids.dim() == 2 && batch.target_ids.size(1) > 0,
              "target_logits_and_labels needs target_ids (B, Tt) with Tt > 0");
  const VlmSequence seq = build(batch);
  DecoderInput in;
  in.inputs_embeds = seq.embeds;
  in.attention_mask = seq.mask;
  in.compute_logits = false;
  const at::Tensor hidden = lm->forward(in).last_hidden_state;  // (B, L, D)
  const int64_t L = hidden.size(1), Tt = batch.target_ids.size(1);
  // Target token j sits at column L - Tt + j and is predicted by column L - Tt - 1 + j.
  const at::Tensor logits = lm->lm_logits(hidden.narrow(1, L - Tt - 1, Tt));  // (B, Tt, V)
  return {logits, seq.labels.narrow(1, L - Tt, Tt)};                            // (B, Tt, V), (B, Tt)
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
