// Which arithmetic a run uses: "bf16" autocast where asked, "auto" = bf16 on GPUs (every GPU
// this project targets, Ampere and later, has bf16) and fp32 on the CPU, "fp32" otherwise.
// Master weights and the loss stay fp32 either way (DESIGN.md, Numerics); under bf16, frozen
// weights that only feed products are stored in bf16.
#pragma once

#include <c10/core/Device.h>
#include <torch/nn/module.h>

#include "config/run_config.h"

namespace vlm::train {

inline bool use_bf16(const config::RunConfig& config, const c10::Device& device) {
  switch (config.train.precision) {
    case config::Precision::kBf16: return true;
    case config::Precision::kFp32: return false;
    case config::Precision::kAuto: break;
  }
  return device.is_cuda();
}

// Under bf16 autocast (and train.frozen_bf16), the model's frozen product weights in bf16
// (models/frozen_bf16.h: the same arithmetic, no cast per step); logs what it did. After anything
// that hashes or saves those weights as they were loaded (the feature cache's manifest).
void store_frozen_in_bf16(const config::RunConfig& config, const c10::Device& device, torch::nn::Module& model);

}  // namespace vlm::train
