// Step numerics: clipping against hand values and LibTorch's clip_grad_norm_, the finite
// check, the NaN guard, and the token count of an accumulated batch.
#include "train/step_utils.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "core/error.h"
#include "train/losses.h"

namespace vlm::train {
namespace {

constexpr int kIgn = static_cast<int>(kIgnoreIndex);  // an int, like the other literals in torch::tensor({...})

std::vector<at::Tensor> params_with_grads(const std::vector<std::vector<float>>& grads) {
  std::vector<at::Tensor> params;
  for (const auto& g : grads) {
    auto p = torch::zeros({static_cast<int64_t>(g.size())}, torch::requires_grad());
    p.mutable_grad() = torch::tensor(g);
    params.push_back(p);
  }
  return params;
}

TEST(ClipGradNorm, HandValues) {
  auto params = params_with_grads({{3, 4}, {12}});  // global norm sqrt(9 + 16 + 144) = 13
  const at::Tensor norm = clip_grad_norm(params, 1.3);
  EXPECT_EQ(norm.dim(), 0);
  EXPECT_NEAR(norm.item<double>(), 13.0, 1e-6);
  const double coef = 1.3 / (13.0 + 1e-6);
  EXPECT_NEAR(params[0].grad()[0].item<double>(), 3 * coef, 1e-6);
  EXPECT_NEAR(params[1].grad()[0].item<double>(), 12 * coef, 1e-6);
  EXPECT_NEAR(grad_norm(params).item<double>(), 1.3, 1e-5);
  // Below the limit nothing changes; max_norm <= 0 only measures.
  auto small = params_with_grads({{0.3f, 0.4f}});
  EXPECT_NEAR(clip_grad_norm(small, 1.0).item<double>(), 0.5, 1e-7);
  EXPECT_FLOAT_EQ(small[0].grad()[1].item<float>(), 0.4f);
  auto measured = params_with_grads({{30, 40}});
  EXPECT_NEAR(clip_grad_norm(measured, 0.0).item<double>(), 50.0, 1e-5);
  EXPECT_FLOAT_EQ(measured[0].grad()[0].item<float>(), 30.0f);
}

TEST(ClipGradNorm, MatchesLibTorch) {
  torch::manual_seed(0);
  std::vector<at::Tensor> a, b;
  for (int64_t n : {7, 33, 2}) {
    auto g = torch::randn({n}) * 3;
    auto pa = torch::zeros({n}, torch::requires_grad());
    auto pb = torch::zeros({n}, torch::requires_grad());
    pa.mutable_grad() = g.clone();
    pb.mutable_grad() = g.clone();
    a.push_back(pa);
    b.push_back(pb);
  }
  auto skipped = torch::zeros({3}, torch::requires_grad());  // no grad: ignored by both
  a.push_back(skipped);
  b.push_back(skipped);
  const double ours = clip_grad_norm(a, 0.5).item<double>();
  const double theirs = torch::nn::utils::clip_grad_norm_(b, 0.5);
  EXPECT_NEAR(ours, theirs, 1e-4);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(torch::allclose(a[i].grad(), b[i].grad(), 1e-5, 1e-7));
}

TEST(AllFinite, DetectsNanAndInf) {
  const at::Tensor ok = torch::tensor(1.5f);
  EXPECT_TRUE(all_finite({ok, torch::tensor(0.0f), at::Tensor()}));
  EXPECT_FALSE(all_finite({ok, torch::tensor(std::numeric_limits<float>::quiet_NaN())}));
  EXPECT_FALSE(all_finite({torch::tensor(std::numeric_limits<float>::infinity()), ok}));
  // A NaN gradient makes the clipped norm NaN, which the check catches.
  auto params = params_with_grads({{1, std::numeric_limits<float>::quiet_NaN()}});
  EXPECT_FALSE(all_finite({ok, clip_grad_norm(params, 1.0)}));
}

TEST(NanGuard, SkipsAndStopsAfterTooManyInARow) {
  NanGuard guard(/*max_consecutive=*/3);
  EXPECT_TRUE(guard.admit(true, 1));
  EXPECT_FALSE(guard.admit(false, 2));
  EXPECT_FALSE(guard.admit(false, 3));
  EXPECT_EQ(guard.consecutive(), 2);
  EXPECT_TRUE(guard.admit(true, 4));  // a good step resets the run
  EXPECT_EQ(guard.consecutive(), 0);
  EXPECT_FALSE(guard.admit(false, 5));
  EXPECT_FALSE(guard.admit(false, 6));
  try {
    guard.admit(false, 7);
    FAIL() << "expected vlm::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("3 consecutive"), std::string::npos) << e.what();
  }
  EXPECT_EQ(guard.skipped(), 5);
}

TEST(StepUtils, ZeroGradsAndTokenCount) {
  auto params = params_with_grads({{1, 2}});
  zero_grads(params);
  EXPECT_FALSE(params[0].grad().defined());
  const at::Tensor mb1 = torch::tensor({{5, 6, kIgn}, {1, kIgn, 2}}, at::kLong);  // 1 + 1
  const at::Tensor mb2 = torch::tensor({{kIgn, 3, 4}}, at::kLong);                       // 2
  EXPECT_EQ(supervised_tokens_in_batch({mb1, mb2}).item<int64_t>(), 4);
}

}  // namespace
}  // namespace vlm::train
