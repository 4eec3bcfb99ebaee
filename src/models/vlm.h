// The stage-2 vision-language model (BLIP-2's second stage, as the reference builds it):
// frozen ViT (trainable on request) -> Q-Former queries -> 2-layer MLP adapter -> Q image tokens
// placed before the chat-formatted prompt, then the target; the causal LM (with LoRA) predicts
// the target.
// Rows are laid out [left padding][image tokens][prompt][target][right padding], so the
// padding of a batch never sits between an image and its prompt.
// Shape letters: B batch, Q queries, Tp prompt tokens, Tt target tokens, D LM width, V vocab.
#pragma once

#include <torch/torch.h>

#include "models/adapter.h"
#include "models/decoder.h"
#include "models/generation.h"
#include "models/qformer.h"
#include "models/vit.h"

namespace vlm::models {

struct VlmBatch {
  at::Tensor pixel_values;  // (B, 3, H, W)
  at::Tensor prompt_ids;    // (B, Tp) left-padded
  at::Tensor prompt_mask;   // (B, Tp) 1 = token
  at::Tensor target_ids;    // (B, Tt) right-padded (empty (B, 0) for generation)
  at::Tensor target_mask;   // (B, Tt)
  // (B, 1 + P, Dv) the frozen ViT's output for these images (train::FeatureCache); when defined,
  // pixel_values is not read and may be undefined.
  at::Tensor vision_features;
};

struct VlmSequence {
  at::Tensor embeds;  // (B, L, D) with L = Q + Tp + Tt
  at::Tensor mask;    // (B, L)
  at::Tensor labels;  // (B, L): target ids where supervised, -100 elsewhere
};

class VisionLanguageModelImpl : public torch::nn::Module {
 public:
  VisionLanguageModelImpl(ViTModel vision, QFormer qformer, Adapter adapter, DecoderLM lm);

  // The ViT is frozen (no grad, eval mode) unless this turns its training on.
  void set_train_vision(bool train);
  // (B, 3, H, W) -> (B, Q, D).
  at::Tensor image_tokens(const at::Tensor& pixel_values);
  // The same from the ViT's output (B, 1 + P, Dv), e.g. cached features: Q-Former and adapter only.
  at::Tensor image_tokens_from_features(const at::Tensor& features);
  // The LM input for a batch: image tokens + prompt + target embeddings, mask and labels.
  VlmSequence build(const VlmBatch& batch);
  // LM logits (B, L, V) and labels of a batch (loss left to the caller: train::causal_lm_loss).
  std::pair<at::Tensor, at::Tensor> logits_and_labels(const VlmBatch& batch);
  // The same loss's inputs, computed only where the loss reads them: the LM head runs at the Tt
  // positions that predict a target token (the target starts at the same column in every row:
  // padding sits before the image and after the target), so logits (B, Tt, V) and labels
  // (B, Tt) are aligned, logits[:, j] predicting labels[:, j] (-100 on right padding). For
  // train::target_lm_loss; equal to causal_lm_loss over logits_and_labels, at Tt / (Q + Tp + Tt)
  // of the head's work.
  std::pair<at::Tensor, at::Tensor> target_logits_and_labels(const VlmBatch& batch);
  // Continues image + prompt (target ignored) with the LM's KV-cache generation.
  GenerationOutput generate(const VlmBatch& batch, const GenerationConfig& config);

  ViTModel vision{nullptr};
  QFormer qformer{nullptr};
  Adapter adapter{nullptr};
  DecoderLM lm{nullptr};
};
TORCH_MODULE(VisionLanguageModel);

// Reorders each row of (B, L, ...) so its `pads` leading-prompt padding positions come first:
// [img (Q)][pads][prompt] -> [pads][img][prompt]. `prompt_mask` (B, Tp) tells the pads.
at::Tensor move_prompt_padding_first(const at::Tensor& x, const at::Tensor& prompt_mask, int64_t num_image_tokens);

}  // namespace vlm::models
