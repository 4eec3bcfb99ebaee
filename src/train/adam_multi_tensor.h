// Adam and AdamW whose step updates all parameters of a group with a handful of multi-tensor
// (_foreach_) kernels. torch::optim::Adam(W) loops over parameters, about ten small kernels
// each: for a LoRA model (hundreds of adapter matrices) that is thousands of CUDA launches per
// step, more than the forward and backward take at batch 8. The math, the order of operations
// and the state objects (AdamWParamState / AdamParamState under the same keys) are those of
// LibTorch's classes, so save/load, group learning rates and checkpoints work unchanged. On a CPU
// the denominator is formed one tensor at a time in a reused buffer (see the .cpp).
#pragma once

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

namespace vlm::train {

class MultiTensorAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  at::Tensor step(LossClosure closure = nullptr) override;

 private:
  at::Tensor scratch_;  // CPU: the denominator of one tensor at a time
};

class MultiTensorAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;
  at::Tensor step(LossClosure closure = nullptr) override;

 private:
  at::Tensor scratch_;  // CPU: the denominator of one tensor at a time
};

}  // namespace vlm::train
