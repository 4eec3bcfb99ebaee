// Stage 2 (the reference's VLM training, BLIP-2's generative stage): ViT frozen, Q-Former from
// stage 1 tuned at lr, the MLP adapter and the LM's LoRA at lr_head; the loss covers the
// target tokens only (caption + end of turn), normalised over the whole accumulated batch.
// Samples with question-answer pairs train on them at data.vqa_ratio.
#pragma once

#include <memory>

#include "config/run_config.h"
#include "models/vlm.h"
#include "train/batches.h"
#include "train/task.h"
#include "inference/vlm_prompts.h"

namespace vlm::train {

class Distributed;

// What each sample trains on at `step`: a question-answer pair (share data.vqa_ratio) or the
// caption with a user prompt drawn from prompt.user; deterministic for (seed, step, key).
std::vector<inference::PromptTarget> choose_targets(const config::RunConfig& config, const ImageTextBatch& batch, int64_t step);

class Stage2Task final : public Task {
 public:
  Stage2Task(const config::RunConfig& config, Distributed* dist);
  ~Stage2Task() override;

  torch::nn::Module& module() override { return *model_; }
  std::vector<ParamRule> param_rules() const override;
  StepResult forward_backward(int64_t step, int64_t grad_accum) override;
  std::map<std::string, double> evaluate(int64_t step) override;
  nlohmann::json state() const override;
  void restore(const nlohmann::json& state) override;
  void export_to(const std::string& dir) override;
  std::vector<std::string> samples() override { return samples_; }
  int64_t train_samples() const override { return data_.train->samples(); }

 private:
  models::VlmBatch to_device(const ImageTextBatch& batch, const inference::TokenBatch& tokens) const;

  config::RunConfig config_;
  Distributed* dist_;
  c10::Device device_;
  inference::PromptBuilder prompts_;
  models::VisionLanguageModel model_{nullptr};
  TaskData data_;  // vision.feature_cache (the frozen ViT's output, read not computed) and the splits' sources
  std::vector<std::string> samples_;
};

}  // namespace vlm::train
