// Stage 1 (BLIP-2's representation learning, the reference's Q-Former alignment): the ViT
// frozen under no-grad (trained too in the from-scratch demo), the Q-Former's image queries
// and its text branch pulled together by the symmetric contrastive loss, with BLIP-2's
// image-text matching and image-grounded caption losses as options, and NegCLIP's hard negative
// captions (negative_captions.h) and Tag2Text's image tagging (caption_tags.h) as options.
#pragma once

#include <memory>

#include "config/run_config.h"
#include "config/word_groups.h"
#include "inference/builders.h"
#include "models/alignment.h"
#include "tokenizers/tokenizer.h"
#include "train/batches.h"
#include "train/caption_tags.h"
#include "train/losses.h"
#include "train/task.h"

namespace vlm::train {

class Distributed;

class Stage1Task final : public Task {
 public:
  Stage1Task(const config::RunConfig& config, Distributed* dist);
  ~Stage1Task() override;

  torch::nn::Module& module() override { return *model_; }
  std::vector<ParamRule> param_rules() const override;
  StepResult forward_backward(int64_t step, int64_t grad_accum) override;
  std::map<std::string, double> evaluate(int64_t step) override;
  void after_optimizer_step() override;
  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;
  void export_to(const std::string& dir) override;
  int64_t train_samples() const override { return data_.train->samples(); }

 private:
  Stage1Task(const config::RunConfig& config, Distributed* dist, inference::Stage1Parts parts);
  struct Losses {
    at::Tensor total, itc, itm, itg, tag;
  };
  Losses losses(const ImageTextBatch& batch, int64_t step);
  // The batch's ViT features (B, 1 + P, Dv): read from the feature cache, or the frozen ViT run.
  at::Tensor image_features(const ImageTextBatch& batch);
  // The symmetric contrastive loss of query embeddings (B, Q, E) and text embeddings (B, E),
  // over the batch gathered from every rank of `dist` (nullptr: this rank's batch alone).
  // `twins`: ContrastiveOptions' negative_text_embeds and negative_valid, or left empty.
  // 1 / temperature: learned (clamped at 100) or fixed.
  at::Tensor logit_scale() const;
  ContrastiveOutput contrastive(const at::Tensor& image, const at::Tensor& txt, const Distributed* dist,
                                ContrastiveOptions twins = {}) const;
  // The captions' hard negative twins embedded (train.negative_words), for contrastive().
  ContrastiveOptions twin_embeddings(const std::vector<std::string>& captions, int64_t step);

  config::RunConfig config_;
  Distributed* dist_;
  c10::Device device_;
  tokenizers::Tokenizer tokenizer_;
  config::WordGroups negative_words_;
  CaptionTags tags_;  // empty unless train.tag_weight > 0
  models::AlignmentModel model_{nullptr};
  TaskData data_;  // the feature cache (vision.feature_cache) and the two splits' sources
};

}  // namespace vlm::train
