// The multi-tensor Adam/AdamW against LibTorch's own classes (the independent reference): same
// parameters, same gradients, several steps with two groups of different lr and weight decay,
// a parameter that has no gradient on some steps (its step count falls behind), then the state
// each leaves behind. Tolerance: 1e-6 relative (the same float32 operations in the same order;
// multi-tensor kernels on a GPU may fuse them differently).
#include "train/adam_multi_tensor.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "core/torch_compat.h"

namespace vlm::train {
namespace {

struct ParamSet {
  std::vector<at::Tensor> a, b;  // group 0 and group 1 parameters
};

ParamSet make_params(uint64_t seed) {
  torch::manual_seed(seed);
  ParamSet s;
  s.a = {torch::randn({4, 3}), torch::randn({3})};
  s.b = {torch::randn({2, 5}), torch::randn({7})};
  for (auto* group : {&s.a, &s.b}) {
    for (auto& p : *group) p.set_requires_grad(true);
  }
  return s;
}

template <typename Opt, typename Options>
std::unique_ptr<torch::optim::Optimizer> make(const ParamSet& s, double wd_a, double wd_b) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(s.a, std::make_unique<Options>(Options(1e-2).betas({0.9, 0.95}).eps(1e-8).weight_decay(wd_a)));
  groups.emplace_back(s.b, std::make_unique<Options>(Options(3e-3).betas({0.8, 0.999}).eps(1e-6).weight_decay(wd_b)));
  return std::make_unique<Opt>(std::move(groups), Options(1e-2));
}

void set_grads(const ParamSet& s, int step) {
  torch::manual_seed(1000 + static_cast<uint64_t>(step));
  const std::vector<at::Tensor> all = {s.a[0], s.a[1], s.b[0], s.b[1]};
  for (size_t i = 0; i < all.size(); ++i) {
    // The last parameter gets a gradient only on even steps.
    if (i == 3 && step % 2 == 1) {
      all[i].mutable_grad() = at::Tensor();
      continue;
    }
    all[i].mutable_grad() = torch::randn(all[i].sizes()) * (1.0 + static_cast<double>(i));
  }
}

template <typename Ours, typename Theirs, typename Options, typename State>
void expect_same_trajectory(double wd_a, double wd_b) {
  const ParamSet ours = make_params(7), theirs = make_params(7);
  auto opt_ours = make<Ours, Options>(ours, wd_a, wd_b);
  auto opt_theirs = make<Theirs, Options>(theirs, wd_a, wd_b);
  for (int step = 0; step < 6; ++step) {
    set_grads(ours, step);
    set_grads(theirs, step);
    opt_ours->step();
    opt_theirs->step();
  }
  const std::vector<at::Tensor> po = {ours.a[0], ours.a[1], ours.b[0], ours.b[1]};
  const std::vector<at::Tensor> pt = {theirs.a[0], theirs.a[1], theirs.b[0], theirs.b[1]};
  const ParamSet start = make_params(7);
  const std::vector<at::Tensor> initial = {start.a[0], start.a[1], start.b[0], start.b[1]};
  for (size_t i = 0; i < po.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_FALSE(torch::equal(po[i], initial[i])) << "parameters must have moved";
    EXPECT_TRUE(torch::allclose(po[i], pt[i], 1e-6, 1e-7)) << (po[i] - pt[i]).abs().max().item<double>();
    const auto& so = static_cast<const State&>(*opt_ours->state().at(compat::optimizer_state_key(po[i])));
    const auto& st = static_cast<const State&>(*opt_theirs->state().at(compat::optimizer_state_key(pt[i])));
    EXPECT_EQ(so.step(), st.step());
    EXPECT_TRUE(torch::allclose(so.exp_avg(), st.exp_avg(), 1e-6, 1e-8));
    EXPECT_TRUE(torch::allclose(so.exp_avg_sq(), st.exp_avg_sq(), 1e-6, 1e-10));
  }
  // The parameter without a gradient on odd steps took 3 steps of 6.
  const auto& last = static_cast<const State&>(*opt_ours->state().at(compat::optimizer_state_key(po[3])));
  EXPECT_EQ(last.step(), 3);
}

TEST(MultiTensorAdam, AdamWMatchesLibTorch) {
  expect_same_trajectory<MultiTensorAdamW, torch::optim::AdamW, torch::optim::AdamWOptions,
                         torch::optim::AdamWParamState>(0.1, 0.0);
}

TEST(MultiTensorAdam, AdamWithL2MatchesLibTorch) {
  expect_same_trajectory<MultiTensorAdam, torch::optim::Adam, torch::optim::AdamOptions,
                         torch::optim::AdamParamState>(0.0, 0.05);
}

TEST(MultiTensorAdam, LeavesGradientsUntouched) {
  // Adam's L2 term is added out of place: .grad keeps what backward produced.
  const ParamSet s = make_params(3);
  auto opt = make<MultiTensorAdam, torch::optim::AdamOptions>(s, 0.5, 0.5);
  set_grads(s, 0);
  const at::Tensor before = s.a[0].grad().clone();
  opt->step();
  EXPECT_TRUE(torch::equal(s.a[0].grad(), before));
}

TEST(MultiTensorAdam, RefusesAmsgrad) {
  const ParamSet s = make_params(5);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(s.a, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1e-3).amsgrad(true)));
  MultiTensorAdamW opt(std::move(groups), torch::optim::AdamWOptions(1e-3));
  set_grads(s, 0);
  EXPECT_ANY_THROW(opt.step());
}

}  // namespace
}  // namespace vlm::train
