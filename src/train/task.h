// What differs between training stages, behind one interface: the modules and their
// parameter rules, the data, the batch-to-loss function, evaluation, saving. The Trainer
// (trainer.h) owns everything else: optimizer, schedule, accumulation, clipping, the
// non-finite guard, data-parallel gradient averaging, logging, checkpoints and signals.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/param_groups.h"

namespace torch::nn { class Module; }

namespace vlm::train {

struct StepResult {
  at::Tensor loss;       // detached fp32 scalar: the step's loss over the whole accumulated batch
  int64_t samples = 0;   // samples consumed by this rank
  int64_t tokens = 0;    // supervised tokens (LM stages), 0 otherwise
  std::map<std::string, at::Tensor> extra;  // more detached scalars to log (e.g. "loss_itc")
};

class Task {
 public:
  virtual ~Task() = default;
  // Everything whose state a checkpoint holds; named_parameters() keys name the tensors.
  virtual torch::nn::Module& module() = 0;
  // Rules that put every trainable parameter in a group with its learning rate.
  virtual std::vector<ParamRule> param_rules() const = 0;
  // Runs forward and backward over `grad_accum` micro-batches (the gradient left in the
  // parameters is that of the whole accumulated batch) and reports the step.
  virtual StepResult forward_backward(int64_t step, int64_t grad_accum) = 0;
  // Validation metrics ("val/loss" at least) on the fixed held-out batches.
  virtual std::map<std::string, double> evaluate(int64_t step) = 0;
  // Called after every optimizer step (e.g. to clamp a learned temperature).
  virtual void after_optimizer_step() {}
  // The data position and any other task state, for exact resume.
  virtual nlohmann::json state() const = 0;
  virtual void restore(const nlohmann::json& state) = 0;
  // Interoperable outputs written at the end of training (HF/PEFT layouts).
  virtual void export_to(const std::string& dir) = 0;
  // Training samples this rank reads in one epoch (train.epochs becomes steps with it).
  virtual int64_t train_samples() const = 0;
  // Human-readable lines logged after each evaluation (e.g. sample captions).
  virtual std::vector<std::string> samples() { return {}; }
};

}  // namespace vlm::train
