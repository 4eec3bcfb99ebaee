// LR schedules against values computed by hand from transformers' formulas.
#include "train/schedule.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"

namespace vlm::train {
namespace {

TEST(Schedule, CosineWithWarmup) {
  const ScheduleOptions o{ScheduleKind::kCosine, /*warmup_steps=*/10, /*total_steps=*/110, /*min_ratio=*/0.0};
  EXPECT_DOUBLE_EQ(lr_factor(o, 0), 0.0);
  EXPECT_DOUBLE_EQ(lr_factor(o, 5), 0.5);
  EXPECT_DOUBLE_EQ(lr_factor(o, 10), 1.0);
  EXPECT_NEAR(lr_factor(o, 35), 0.5 * (1 + std::sqrt(0.5)), 1e-12);  // progress 1/4
  EXPECT_NEAR(lr_factor(o, 60), 0.5, 1e-12);                          // progress 1/2
  EXPECT_NEAR(lr_factor(o, 110), 0.0, 1e-12);
  EXPECT_NEAR(lr_factor(o, 500), 0.0, 1e-12);  // past the end it stays at the floor
}

TEST(Schedule, CosineWithMinRatio) {
  const ScheduleOptions o{ScheduleKind::kCosine, 10, 110, 0.1};
  EXPECT_DOUBLE_EQ(lr_factor(o, 5), 0.5);  // warmup is not affected
  EXPECT_NEAR(lr_factor(o, 60), 0.1 + 0.9 * 0.5, 1e-12);
  EXPECT_NEAR(lr_factor(o, 110), 0.1, 1e-12);
}

TEST(Schedule, LinearAndConstant) {
  const ScheduleOptions linear{ScheduleKind::kLinear, 4, 24, 0.0};
  EXPECT_DOUBLE_EQ(lr_factor(linear, 1), 0.25);
  EXPECT_DOUBLE_EQ(lr_factor(linear, 4), 1.0);
  EXPECT_DOUBLE_EQ(lr_factor(linear, 9), 0.75);
  EXPECT_DOUBLE_EQ(lr_factor(linear, 24), 0.0);
  const ScheduleOptions constant{ScheduleKind::kConstant, 4, 0, 0.0};
  EXPECT_DOUBLE_EQ(lr_factor(constant, 2), 0.5);
  EXPECT_DOUBLE_EQ(lr_factor(constant, 4), 1.0);
  EXPECT_DOUBLE_EQ(lr_factor(constant, 1000), 1.0);
  const ScheduleOptions no_warmup{ScheduleKind::kConstant, 0, 0, 0.0};
  EXPECT_DOUBLE_EQ(lr_factor(no_warmup, 0), 1.0);
}

TEST(Schedule, SchedulerSetsEveryGroupFromItsBaseLr) {
  auto a = torch::zeros({2}, torch::requires_grad());
  auto b = torch::zeros({2}, torch::requires_grad());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<at::Tensor>{a}, std::make_unique<torch::optim::AdamWOptions>(1e-4));
  groups.emplace_back(std::vector<at::Tensor>{b}, std::make_unique<torch::optim::AdamWOptions>(1e-5));
  torch::optim::AdamW optimizer(std::move(groups));
  LrScheduler scheduler(optimizer, {ScheduleKind::kCosine, 10, 110, 0.0});
  EXPECT_DOUBLE_EQ(scheduler.apply(5), 0.5);
  EXPECT_DOUBLE_EQ(group_lrs(optimizer)[0], 0.5e-4);
  EXPECT_DOUBLE_EQ(group_lrs(optimizer)[1], 0.5e-5);
  scheduler.apply(60);  // from the base, not compounded on the last value
  EXPECT_NEAR(group_lrs(optimizer)[0], 0.5e-4, 1e-18);
  EXPECT_NEAR(group_lrs(optimizer)[1], 0.5e-5, 1e-18);
}

TEST(Schedule, RejectsBadOptions) {
  EXPECT_EQ(config::parse_enum_or_throw<ScheduleKind>("cosine", "train.schedule"), ScheduleKind::kCosine);
  EXPECT_THROW(config::parse_enum_or_throw<ScheduleKind>("cosine_restarts", "train.schedule"), ConfigError);
  auto p = torch::zeros({1}, torch::requires_grad());
  torch::optim::AdamW optimizer(std::vector<at::Tensor>{p});
  EXPECT_THROW(LrScheduler(optimizer, {ScheduleKind::kCosine, 100, 50, 0.0}), ConfigError);
  EXPECT_THROW(LrScheduler(optimizer, {ScheduleKind::kLinear, 0, 50, 1.5}), ConfigError);
}

// train.epochs -> steps: ceil(epochs x samples / (batch x accum)), worked out by hand.
TEST(Schedule, EpochsBecomeStepsRoundedUp) {
  EXPECT_EQ(steps_for_epochs(10, 45000, 8, 1), 56250);  // the reference's stage 1: 45k pairs, batch 8
  EXPECT_EQ(steps_for_epochs(5, 45000, 8, 4), 7032);    // its stage 2: 225000 / 32 = 7031.25 -> 7032
  EXPECT_EQ(steps_for_epochs(1, 10, 4, 1), 3);          // 2.5 batches: the last partial one counts
  EXPECT_EQ(steps_for_epochs(0.5, 16, 8, 1), 1);
  EXPECT_EQ(steps_for_epochs(0.01, 16, 8, 1), 1);       // never 0
  EXPECT_THROW(steps_for_epochs(0, 16, 8, 1), ConfigError);
  EXPECT_THROW(steps_for_epochs(1, 0, 8, 1), ConfigError);
}

}  // namespace
}  // namespace vlm::train
