// Learning-rate schedules as plain functions of the step, following transformers'
// get_{constant,linear,cosine}_schedule_with_warmup (and the min-lr variant of the cosine one).
// LibTorch 1.13 has only StepLR (LIBTORCH.md), so the factor is computed here and written into
// every parameter group as base_lr(group) x factor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/enums.h"

namespace torch::optim { class Optimizer; }

namespace vlm::train {

using config::ScheduleKind;

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::kConstant;
  int64_t warmup_steps = 0;  // e.g. 100: the factor rises linearly from 0 to 1
  int64_t total_steps = 0;   // e.g. 10000: where linear/cosine reach min_ratio
  double min_ratio = 0.0;    // e.g. 0.1: the factor decays to this fraction of the base lr
};

// The multiplier of the base lr for the optimizer step that follows `step` completed steps
// (0 for the first step, as in transformers' LambdaLR):
//   step < warmup:   step / warmup
//   constant:        1
//   linear:          max(0, (total - step) / (total - warmup))
//   cosine:          0.5 * (1 + cos(pi * progress)), progress = (step - warmup) / (total - warmup)
// then decaying schedules are mapped to min_ratio + (1 - min_ratio) * f. Past total: min_ratio.
double lr_factor(const ScheduleOptions& options, int64_t step);

// Optimizer steps for `epochs` passes over `samples` training samples (per rank) at `batch_size`
// per micro-batch and `grad_accum` micro-batches per step: ceil(epochs x samples / (batch x
// accum)), at least 1. Throws vlm::ConfigError when there is nothing to train on.
int64_t steps_for_epochs(double epochs, double samples, int64_t batch_size, int64_t grad_accum);

// Remembers each parameter group's base lr (as built) and sets group lr = base x factor.
class LrScheduler {
 public:
  LrScheduler(torch::optim::Optimizer& optimizer, ScheduleOptions options);
  // Sets every group's lr for the step after `step` completed steps; returns the factor.
  double apply(int64_t step);
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  const ScheduleOptions& options() const { return options_; }

 private:
  torch::optim::Optimizer& optimizer_;
  ScheduleOptions options_;
  std::vector<double> base_lrs_;
};

// Sets group i's lr to base_lrs[i] * factor (sizes must match).
void set_group_lrs(torch::optim::Optimizer& optimizer, const std::vector<double>& base_lrs, double factor);
std::vector<double> group_lrs(const torch::optim::Optimizer& optimizer);

}  // namespace vlm::train
