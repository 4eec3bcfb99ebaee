// LR schedules (transformers' optimization.py: constant/linear/cosine with warmup and the
// cosine-with-min-lr variant), applied by writing each optimizer group's lr. LibTorch's
// schedulers cannot express warmup or cosine on 1.13, and plain functions are easy to test.
#include "train/schedule.h"

#include <torch/optim/optimizer.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace vlm::train {

double lr_factor(const ScheduleOptions& o, int64_t step) {
  step = std::max<int64_t>(step, 0);
  if (step < o.warmup_steps) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, o.warmup_steps));
  if (o.kind == ScheduleKind::kConstant) return 1.0;
  const double decay_steps = static_cast<double>(std::max<int64_t>(1, o.total_steps - o.warmup_steps));
  const double progress = std::min(1.0, static_cast<double>(step - o.warmup_steps) / decay_steps);
  const double f = o.kind == ScheduleKind::kLinear ? 1.0 - progress
                                                   : 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return o.min_ratio + (1.0 - o.min_ratio) * std::max(0.0, f);
}

std::vector<double> group_lrs(const torch::optim::Optimizer& optimizer) {
  std::vector<double> lrs;
  for (const auto& group : optimizer.param_groups()) lrs.push_back(group.options().get_lr());
  return lrs;
}

void set_group_lrs(torch::optim::Optimizer& optimizer, const std::vector<double>& base_lrs, double factor) {
  auto& groups = optimizer.param_groups();
  if (groups.size() != base_lrs.size()) {
    throw Error(vlm::str("set_group_lrs: ", base_lrs.size(), " base lrs for ", groups.size(), " parameter groups"));
  }
  for (size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(base_lrs[i] * factor);
}

LrScheduler::LrScheduler(torch::optim::Optimizer& optimizer, ScheduleOptions options)
    : optimizer_(optimizer), options_(options), base_lrs_(group_lrs(optimizer)) {
  if (options_.warmup_steps < 0 || options_.total_steps < 0) {
    throw ConfigError("train.schedule", "warmup and total steps must not be negative");
  }
  if (options_.kind != ScheduleKind::kConstant && options_.total_steps <= options_.warmup_steps) {
    throw ConfigError("train.schedule",
                      vlm::str("a ", config::to_string(options_.kind), " schedule needs total steps (",
                          options_.total_steps, ") above warmup steps (", options_.warmup_steps, ")"));
  }
  if (options_.min_ratio < 0.0 || options_.min_ratio > 1.0) {
    throw ConfigError("train.schedule", vlm::str("min_ratio ", options_.min_ratio, " is outside [0, 1]"));
  }
}

double LrScheduler::apply(int64_t step) {
  const double factor = lr_factor(options_, step);
  set_group_lrs(optimizer_, base_lrs_, factor);
  return factor;
}

int64_t steps_for_epochs(double epochs, double samples, int64_t batch_size, int64_t grad_accum) {
  if (!(epochs > 0)) throw ConfigError("train.epochs", str("must be above 0, got ", epochs));
  if (!(samples >= 1)) throw ConfigError("train.epochs", "the training split is empty: no epoch to count steps in");
  const double per_step = static_cast<double>(batch_size) * static_cast<double>(grad_accum);
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(epochs * samples / per_step - 1e-9)));
}

}  // namespace vlm::train
