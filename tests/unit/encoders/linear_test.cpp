// models::Linear (models/linear.h): the same layer as torch::nn::Linear, computed by at::linear.
// Reference: torch::nn::Linear holding the same weights, which computes matmul + bias. fp32 must agree
// to rounding (1e-6); under bf16 autocast both are compared with the fp32 result (bf16 has 8
// mantissa bits: 2^-8 relative per rounding, a few roundings deep).
// Shape letters: B batch, T tokens, I in features, O out features.
#include <gtest/gtest.h>

#include "core/torch_compat.h"
#include "models/linear.h"

namespace vlm::models {
namespace {

struct Pair {
  Linear ours{nullptr};
  torch::nn::Linear reference{nullptr};
};

Pair make_pair(int64_t in, int64_t out, bool bias) {
  torch::manual_seed(7);
  Pair p{Linear(torch::nn::LinearOptions(in, out).bias(bias)), torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias))};
  torch::NoGradGuard no_grad;
  p.reference->weight.copy_(p.ours->weight);
  if (bias) {
    p.ours->bias.uniform_(-1.0, 1.0);  // a bias large enough that dropping or rounding it shows
    p.reference->bias.copy_(p.ours->bias);
  }
  return p;
}

double max_rel(const at::Tensor& a, const at::Tensor& b) {
  return ((a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max() / b.to(torch::kDouble).abs().max()).item<double>();
}

TEST(Linear, Fp32OutputAndGradientsEqualTorchNnLinearOn2dAnd3dInputs) {
  for (const bool bias : {true, false}) {
    for (const std::vector<int64_t>& shape : {std::vector<int64_t>{6, 16}, std::vector<int64_t>{3, 5, 16}}) {
      Pair p = make_pair(16, 24, bias);
      const at::Tensor x = torch::randn(shape);
      const at::Tensor x1 = x.clone().requires_grad_(true), x2 = x.clone().requires_grad_(true);
      const at::Tensor y1 = p.ours(x1), y2 = p.reference(x2);
      ASSERT_EQ(y1.sizes(), y2.sizes());
      EXPECT_LT(max_rel(y1, y2), 1e-6) << "bias " << bias << " dims " << shape.size();
      const at::Tensor g = torch::randn(y1.sizes());
      y1.backward(g);
      y2.backward(g);
      EXPECT_LT(max_rel(x1.grad(), x2.grad()), 1e-6);
      EXPECT_LT(max_rel(p.ours->weight.grad(), p.reference->weight.grad()), 1e-6);
      if (bias) {
        EXPECT_LT(max_rel(p.ours->bias.grad(), p.reference->bias.grad()), 1e-6);
      }
    }
  }
}

TEST(Linear, Bf16AutocastKeepsTheBiasAndMatchesFp32WithinBf16Rounding) {
  Pair p = make_pair(64, 48, /*bias=*/true);
  const at::Tensor x = torch::randn({4, 8, 64});
  const at::Tensor y32 = p.reference(x).detach();  // fp32, the reference
  at::Tensor y16;
  {
    compat::AutocastGuard autocast(c10::DeviceType::CPU, true);
    y16 = p.ours(x);
  }
  EXPECT_EQ(y16.scalar_type(), torch::kBFloat16);
  EXPECT_LT(max_rel(y16, y32), 2e-2);
  // Without the bias the error would be the bias itself: |bias| up to 1 against outputs of a few.
  EXPECT_GT(max_rel(y32 - p.reference->bias.detach(), y32), 0.05);

  // Gradients reach the fp32 master weights in fp32, close to the fp32 ones.
  const at::Tensor g = torch::randn(y32.sizes());
  y16.backward(g.to(torch::kBFloat16));
  const at::Tensor y = p.reference(x);
  y.backward(g);
  EXPECT_EQ(p.ours->bias.grad().scalar_type(), torch::kFloat);
  EXPECT_LT(max_rel(p.ours->bias.grad(), p.reference->bias.grad()), 2e-2);
  EXPECT_LT(max_rel(p.ours->weight.grad(), p.reference->weight.grad()), 2e-2);
}

TEST(Linear, HoldsTheParameterNamesOfTorchNnLinear) {
  Pair p = make_pair(4, 3, /*bias=*/true);
  std::vector<std::string> ours, reference;
  for (const auto& item : p.ours->named_parameters()) ours.push_back(item.key());
  for (const auto& item : p.reference->named_parameters()) reference.push_back(item.key());
  EXPECT_EQ(ours, reference);
  EXPECT_NE(p.ours->as<torch::nn::LinearImpl>(), nullptr);  // the initialisers find it as a Linear
}

}  // namespace
}  // namespace vlm::models
