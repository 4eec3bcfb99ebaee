#include "train/adam_multi_tensor.h"

#include <ATen/ATen.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/torch_compat.h"

namespace vlm::train {
namespace {

// One Adam/AdamW step over every group of `optimizer`. Decoupled: AdamW's p *= 1 - lr * wd;
// otherwise Adam's L2 term added to the gradient (out of place: .grad stays as backward left it).
// The denominator sqrt(v) / sqrt(1 - beta2^t) + eps. On a GPU as one multi-tensor kernel. On a CPU
// each tensor's in turn, in one reused buffer: a fresh denominator for every tensor at once is
// as large as all the trainable weights, and the pages of so large an allocation are mapped anew
// every step (2026-12-03, stage 1 at the real sizes in bf16: 0.65 s of a 1.9 s step in sqrt,
// nearly all of it page faults). The same arithmetic in the same order either way.
void addcdiv_by_denominator(std::vector<at::Tensor>& params, const std::vector<at::Tensor>& exp_avgs,
                            const std::vector<at::Tensor>& exp_avg_sqs, const std::vector<at::Scalar>& step_sizes,
                            const std::vector<at::Scalar>& bias_correction2_sqrts, double eps, at::Tensor& scratch) {
  if (params.front().is_cuda()) {
    std::vector<at::Tensor> denom = at::_foreach_sqrt(exp_avg_sqs);
    at::_foreach_div_(denom, bias_correction2_sqrts);
    at::_foreach_add_(denom, eps);
    at::_foreach_addcdiv_(params, exp_avgs, denom, step_sizes);
    return;
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const at::Tensor& v = exp_avg_sqs[i];
    if (!scratch.defined() || scratch.numel() < v.numel() || scratch.scalar_type() != v.scalar_type())
      scratch = at::empty({v.numel()}, v.options());
    at::Tensor denom = scratch.narrow(0, 0, v.numel()).view(v.sizes());
    at::sqrt_out(denom, v);
    denom.div_(bias_correction2_sqrts[i]).add_(eps);
    params[i].addcdiv_(exp_avgs[i], denom, step_sizes[i]);
  }
}

template <typename State, typename Options, bool kDecoupled>
void multi_tensor_step(torch::optim::Optimizer& optimizer, at::Tensor& scratch) {
  torch::NoGradGuard no_grad;
  for (auto& group : optimizer.param_groups()) {
    const auto& options = static_cast<const Options&>(group.options());
    if (options.amsgrad()) throw Error("multi-tensor Adam: amsgrad is not supported");
    const double lr = options.lr(), eps = options.eps(), weight_decay = options.weight_decay();
    const auto [beta1, beta2] = options.betas();
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs;
    std::vector<at::Scalar> step_sizes, bias_correction2_sqrts;
    for (const at::Tensor& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = optimizer.state()[compat::optimizer_state_key(p)];
      if (!slot) {
        auto fresh = std::make_unique<State>();
        fresh->step(0);
        fresh->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
        fresh->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& state = static_cast<State&>(*slot);
      state.step(state.step() + 1);
      const double step = static_cast<double>(state.step());
      step_sizes.emplace_back(-lr / (1.0 - std::pow(beta1, step)));
      bias_correction2_sqrts.emplace_back(std::sqrt(1.0 - std::pow(beta2, step)));
      params.push_back(p);
      grads.push_back(p.grad());
      exp_avgs.push_back(state.exp_avg());
      exp_avg_sqs.push_back(state.exp_avg_sq());
    }
    if (params.empty()) continue;
    if (weight_decay != 0.0) {
      if constexpr (kDecoupled) {
        at::_foreach_mul_(params, 1.0 - lr * weight_decay);
      } else {
        grads = at::_foreach_add(grads, params, weight_decay);
      }
    }
    at::_foreach_mul_(exp_avgs, beta1);
    at::_foreach_add_(exp_avgs, grads, 1.0 - beta1);
    at::_foreach_mul_(exp_avg_sqs, beta2);
    at::_foreach_addcmul_(exp_avg_sqs, grads, grads, 1.0 - beta2);
    addcdiv_by_denominator(params, exp_avgs, exp_avg_sqs, step_sizes, bias_correction2_sqrts, eps, scratch);
  }
}

at::Tensor closure_loss(const torch::optim::Optimizer::LossClosure& closure) {
  if (!closure) return {};
  at::AutoGradMode enable_grad(true);
  return closure();
}

}  // namespace

at::Tensor MultiTensorAdamW::step(LossClosure closure) {
  at::Tensor loss = closure_loss(closure);
  multi_tensor_step<torch::optim::AdamWParamState, torch::optim::AdamWOptions, true>(*this, scratch_);
  return loss;
}

at::Tensor MultiTensorAdam::step(LossClosure closure) {
  at::Tensor loss = closure_loss(closure);
  multi_tensor_step<torch::optim::AdamParamState, torch::optim::AdamOptions, false>(*this, scratch_);
  return loss;
}

}  // namespace vlm::train
