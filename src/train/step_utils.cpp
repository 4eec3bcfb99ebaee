// Step numerics after torchtitan's train_step and torch.nn.utils.clip_grad_norm_: the norm
// stays a device tensor (LibTorch's clip_grad_norm_ returns a double, a sync per step), and
// the finite check is one explicit sync the trainer chooses to pay.
#include "train/step_utils.h"

#include <torch/torch.h>

#include <map>

#include "core/error.h"
#include "core/log.h"
#include "core/torch_compat.h"
#include "train/distributed.h"
#include "train/losses.h"

namespace vlm::train {

namespace {

std::vector<at::Tensor> defined_grads(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad().detach());
  }
  return grads;
}

}  // namespace

at::Tensor grad_norm(const std::vector<at::Tensor>& params) {
  const std::vector<at::Tensor> grads = defined_grads(params);
  if (grads.empty()) return at::zeros({}, params.empty() ? at::TensorOptions(at::kFloat) : params[0].options().dtype(at::kFloat));
  // One multi-tensor kernel for the per-tensor norms, then the norm of those (n,) -> ().
  return at::stack(at::_foreach_norm(grads, 2)).to(at::kFloat).norm();
}

at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  const at::Tensor norm = grad_norm(params);
  if (max_norm <= 0.0) return norm;
  const at::Tensor coef = (max_norm / (norm + 1e-6)).clamp_max(1.0);
  const std::vector<at::Tensor> grads = defined_grads(params);
  std::map<at::ScalarType, std::vector<at::Tensor>> by_dtype;
  for (const at::Tensor& g : grads) by_dtype[g.scalar_type()].push_back(g);
  for (const auto& [dtype, same] : by_dtype) compat::foreach_mul_(same, coef.to(dtype));
  return norm;
}

bool all_finite(const std::vector<at::Tensor>& scalars) {
  std::vector<at::Tensor> flags;
  for (const at::Tensor& s : scalars) {
    if (!s.defined()) continue;
    const at::Tensor flag = at::isfinite(s.detach()).all();
    flags.push_back(flags.empty() ? flag : flag.to(flags.front().device()));
  }
  if (flags.empty()) return true;
  return at::stack(flags).all().item<bool>();  // the one host sync
}

bool NanGuard::admit(bool finite, int64_t step) {
  if (finite) {
    consecutive_ = 0;
    return true;
  }
  ++consecutive_;
  ++skipped_;
  log::warn("step ", step, ": loss or gradient norm is not finite; optimizer step skipped (", consecutive_,
            " in a row, limit ", max_consecutive_, ")");
  if (consecutive_ >= max_consecutive_) {
    throw Error(vlm::str("training diverged: ", consecutive_, " consecutive steps with a non-finite loss or gradient norm (last at step ",
                    step, ")"),
                "lower the learning rate, enable clipping, or resume from an earlier checkpoint");
  }
  return false;
}

void zero_grads(const std::vector<at::Tensor>& params) {
  for (const at::Tensor& p : params) {
    if (p.grad().defined()) p.mutable_grad().reset();
  }
}

at::Tensor supervised_tokens_in_batch(const std::vector<at::Tensor>& micro_batch_labels, const Distributed* dist) {
  at::Tensor total;
  for (const at::Tensor& labels : micro_batch_labels) {
    const at::Tensor n = count_supervised_tokens(labels);
    total = total.defined() ? total + n : n;
  }
  if (!total.defined()) total = at::zeros({}, at::kLong);
  total = total.contiguous();
  if (dist != nullptr) dist->all_reduce_sum_(total);
  return total;
}

}  // namespace vlm::train
