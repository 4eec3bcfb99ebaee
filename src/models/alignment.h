// The stage-1 model (BLIP-2's representation learning stage, the reference's Q-Former
// alignment): a ViT and a Q-Former under the names stage-1 checkpoints use ("vision.",
// "qformer."), plus the optional training heads of stage 1: a caption head (BLIP-2's ITG), an
// image-tag head (Tag2Text) and a learned temperature. Losses live with training (train/).
#pragma once

#include <torch/nn/module.h>

#include "models/linear.h"
#include "models/qformer.h"
#include "models/vit.h"

namespace vlm::models {

class AlignmentModelImpl : public torch::nn::Module {
 public:
  // itg_vocab: the caption head's vocabulary (0 = no caption head); tag_prior (K,): each tag's
  // prior logit, the tag head's starting bias (undefined = no tag head), which reads tokens
  // `tag_width` wide; learn_temperature: a log-scale parameter starting at log(1 / temperature).
  AlignmentModelImpl(ViTModel vision, QFormer qformer, double temperature, bool learn_temperature,
                     int64_t itg_vocab, const at::Tensor& tag_prior = {}, int64_t tag_width = 0);
  // ViT features (B, 1 + P, Dv): under no-grad and in eval mode when the ViT is frozen (vit.h).
  at::Tensor vision_features(const at::Tensor& pixel_values);

  ViTModel vision{nullptr};
  QFormer qformer{nullptr};
  Linear itg_head{nullptr};  // text hidden -> vocabulary, for the caption loss (itg_weight > 0)
  Linear tag_head{nullptr};  // queries or ViT patch tokens -> tags, max over them (tag_weight > 0)
  at::Tensor log_scale;      // defined when the temperature is learned
  double fixed_temperature;
};
TORCH_MODULE(AlignmentModel);

// Tensors of a stage-1 checkpoint that only training reads: the heads and the temperature.
bool is_stage1_training_head(const std::string& name);

}  // namespace vlm::models
