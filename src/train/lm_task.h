// Stage "lm": pretrains a small causal LM from scratch on the dataset's text in the chat
// format stage 2 uses (a user prompt, then the caption or answer as the assistant turn), so
// the demo's stage 2 starts, like the real setup, from an LM that already speaks the language.
// lm.path names the tokenizer folder (tokenizer.json + tokenizer_config.json with the chat
// template); the export is an HF causal-LM folder that stage 2 loads as lm.path.
#pragma once

#include "config/run_config.h"
#include "models/decoder.h"
#include "train/task.h"
#include "inference/vlm_prompts.h"

namespace vlm::train {

class Distributed;

// The LM stage's loss of a token batch already on the model's device: prompt + target through
// `lm`, the LM head only at the Tt positions that predict a target token, the summed
// cross-entropy divided by `count` (undefined: this batch's target tokens). Equal to
// causal_lm_loss over the full logits (tests/unit/decoder/target_logits_test.cpp).
at::Tensor prompt_target_loss(models::DecoderLMImpl& lm, const inference::TokenBatch& t, const at::Tensor& count = {});

class LmTask final : public Task {
 public:
  LmTask(const config::RunConfig& config, Distributed* dist);

  torch::nn::Module& module() override { return *model_; }
  std::vector<ParamRule> param_rules() const override;
  StepResult forward_backward(int64_t step, int64_t grad_accum) override;
  std::map<std::string, double> evaluate(int64_t step) override;
  nlohmann::json state() const override { return nlohmann::json::object(); }  // batches are a function of the step
  void restore(const nlohmann::json&) override {}
  void export_to(const std::string& dir) override;
  int64_t train_samples() const override;

 private:
  // Mean cross-entropy over the target tokens, or their sum divided by `count` when given.
  at::Tensor loss_of(const inference::TokenBatch& t, const at::Tensor& count = at::Tensor());

  config::RunConfig config_;
  Distributed* dist_;
  c10::Device device_;
  inference::PromptBuilder prompts_;
  models::DecoderLM model_{nullptr};
  std::vector<inference::PromptTarget> train_rows_, val_rows_;
};

}  // namespace vlm::train
