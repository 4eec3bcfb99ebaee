// Which arithmetic a run uses: "bf16" autocast where asked, "auto" = bf16 on GPUs (every GPU
// this project targets, Ampere and later, has bf16) and fp32 on the CPU, "fp32" otherwise.
// Master weights and the loss stay fp32 either way (DESIGN.md, Numerics).
#pragma once

#include <c10/core/Device.h>

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

}  // namespace vlm::train
