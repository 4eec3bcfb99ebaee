// Helpers for the encoder tests: tiny HF-layout folders written by the test, closeness checks that
// print max-abs-diff / NMSE / first values, and a central-finite-difference gradient check.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/tensor_store.h"
#include "models/hf_config.h"

namespace vlm::test {

// Tolerances used by these tests, in one place.
inline constexpr double kFp32Close = 1e-5;   // max |a - b| of fp32 outputs from two implementations
inline constexpr double kFp32VsFp64 = 1e-4;  // max |a - b| of an fp32 forward against a float64 reference
inline constexpr double kGradRelTol = 1e-6;  // |autograd - central difference| / max(|g|, kGradFloor), double
inline constexpr double kGradFloor = 1e-2;   // below this gradient size the check is absolute (FD round-off)
inline constexpr double kBf16Nmse = 1e-3;   // NMSE of a bf16-autocast output against fp32
inline constexpr double kFdStep = 1e-5;      // central-difference step in double

inline ::testing::AssertionResult all_close(const at::Tensor& actual, const at::Tensor& expected, double max_abs) {
  if (actual.sizes() != expected.sizes())
    return ::testing::AssertionFailure() << "shapes differ: " << actual.sizes() << " vs " << expected.sizes();
  const auto a = actual.detach().to(torch::kDouble).flatten(), b = expected.detach().to(torch::kDouble).flatten();
  const double diff = (a - b).abs().max().item<double>();
  const double nmse = ((a - b).pow(2).sum() / b.pow(2).sum().clamp_min(1e-30)).item<double>();
  if (diff <= max_abs) return ::testing::AssertionSuccess();
  auto out = ::testing::AssertionFailure();
  out << "max|d| = " << diff << " > " << max_abs << ", NMSE = " << nmse << "; first values (actual | expected):";
  for (int64_t i = 0; i < std::min<int64_t>(6, a.numel()); ++i)
    out << "\n  " << a[i].item<double>() << " | " << b[i].item<double>();
  return out;
}

// Normalised mean squared error sum((a-b)^2) / sum(b^2) within `budget` (for bf16 results).
inline ::testing::AssertionResult nmse_below(const at::Tensor& actual, const at::Tensor& expected, double budget) {
  const auto a = actual.detach().to(torch::kDouble), b = expected.detach().to(torch::kDouble);
  const double nmse = ((a - b).pow(2).sum() / b.pow(2).sum().clamp_min(1e-30)).item<double>();
  if (nmse <= budget && a.isfinite().all().item<bool>()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "NMSE = " << nmse << " > " << budget << " (or non-finite values)";
}

// LayerNorm over the last dimension written out (biased variance, as torch.nn.LayerNorm).
inline at::Tensor layer_norm_ref(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double eps) {
  const auto mean = x.mean(-1, true);
  return (x - mean) / torch::sqrt((x - mean).pow(2).mean(-1, true) + eps) * w + b;
}

// GELU with the exact erf, as transformers' "gelu".
inline at::Tensor gelu_ref(const at::Tensor& x) { return 0.5 * x * (1 + torch::erf(x / std::sqrt(2.0))); }

// A module's parameters by name, detached.
inline std::map<std::string, at::Tensor> params_of(const torch::nn::Module& m) {
  std::map<std::string, at::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value().detach();
  return out;
}

// Every parameter and buffer of a module under `prefix` + its name (an HF-layout state dict).
inline std::vector<std::pair<std::string, at::Tensor>> state_of(const torch::nn::Module& m, const std::string& prefix) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : m.named_parameters()) out.emplace_back(prefix + p.key(), p.value().detach().clone());
  for (const auto& b : m.named_buffers()) out.emplace_back(prefix + b.key(), b.value().detach().clone());
  return out;
}

// Writes config.json + model.safetensors into `dir`.
inline void write_hf_folder(const std::string& dir, const nlohmann::json& config,
                            const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  models::write_config_json(dir + "/config.json", config);
  io::save_tensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
}

// Gives LayerNorms and biases random values so that loading mistakes cannot hide behind 1s and 0s.
inline void randomize(torch::nn::Module& m, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.add_(torch::randn_like(p) * 0.05);
}

// Compares autograd gradients of `loss` (a scalar, module in double) with central differences on
// `per_param` sampled entries of every trainable parameter. Returns the worst relative error seen.
inline double check_gradients(torch::nn::Module& m, const std::function<at::Tensor()>& loss, int per_param,
                              uint64_t seed = 0) {
  m.zero_grad();
  loss().backward();
  std::mt19937_64 rng(seed);
  double worst = 0;
  for (const auto& item : m.named_parameters()) {
    at::Tensor p = item.value();
    if (!p.requires_grad()) continue;
    EXPECT_EQ(p.scalar_type(), torch::kDouble) << item.key();
    EXPECT_TRUE(p.grad().defined()) << item.key() << " got no gradient";
    if (!p.grad().defined()) continue;
    at::Tensor flat = p.data().view({-1});
    const at::Tensor grad = p.grad().view({-1});
    for (int s = 0; s < per_param; ++s) {
      const int64_t i = static_cast<int64_t>(rng() % static_cast<uint64_t>(flat.numel()));
      const double orig = flat[i].item<double>();
      double up = 0, down = 0;
      {
        torch::NoGradGuard no_grad;
        flat[i] = orig + kFdStep;
        up = loss().item<double>();
        flat[i] = orig - kFdStep;
        down = loss().item<double>();
        flat[i] = orig;
      }
      const double fd = (up - down) / (2 * kFdStep), ad = grad[i].item<double>();
      const double rel = std::abs(fd - ad) / std::max({std::abs(ad), std::abs(fd), kGradFloor});
      worst = std::max(worst, rel);
      EXPECT_LE(rel, kGradRelTol) << item.key() << "[" << i << "]: autograd " << ad << ", central difference " << fd;
    }
  }
  std::ostringstream worst_str;
  worst_str << worst;
  ::testing::Test::RecordProperty("worst_grad_rel_err", worst_str.str());
  return worst;
}

}  // namespace vlm::test
