// Step numerics (torchtitan's train_step): gradient clipping that returns the total norm as a
// tensor (LibTorch's clip_grad_norm_ returns a double: a host sync every step on a GPU), one
// finite check of loss and norm when the caller decides to sync, and a guard that skips
// non-finite steps and stops after too many in a row.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace vlm::train {

class Distributed;  // distributed.h

// The global L2 norm of the gradients of `params` (those with a defined grad), an fp32 scalar
// on their device. No host sync.
at::Tensor grad_norm(const std::vector<at::Tensor>& params);

// Scales the gradients in place so their global norm is at most max_norm (coefficient
// max_norm / (norm + 1e-6) clamped at 1, as torch.nn.utils.clip_grad_norm_) and returns the
// norm before clipping as a tensor. max_norm <= 0 only measures. No host sync.
at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

// True when every given scalar (loss, grad norm; undefined ones are skipped) is finite.
// One host sync for all of them.
bool all_finite(const std::vector<at::Tensor>& scalars);

// Counts consecutive non-finite steps. Usage each step:
//   if (guard.admit(all_finite({loss, norm}), step)) optimizer.step(); else optimizer.zero_grad();
// admit() throws vlm::Error after `max_consecutive` non-finite steps in a row.
class NanGuard {
 public:
  explicit NanGuard(int max_consecutive = 5) : max_consecutive_(max_consecutive) {}
  // Returns `finite`; on a non-finite step logs a warning and counts it.
  bool admit(bool finite, int64_t step);
  int consecutive() const { return consecutive_; }
  int64_t skipped() const { return skipped_; }
  void reset() { consecutive_ = 0; }

 private:
  int max_consecutive_;
  int consecutive_ = 0;
  int64_t skipped_ = 0;
};

// Sets every gradient of `params` to none (undefined): the next backward allocates fresh ones.
void zero_grads(const std::vector<at::Tensor>& params);

// Supervised tokens of a whole accumulated batch: the sum of count_supervised_tokens over the
// micro-batches' labels, summed over ranks when `dist` has several. An int64 scalar tensor;
// pass it to causal_lm_loss for every micro-batch. Summed over ranks, the gradients must then be
// summed too: dist->all_reduce_gradients(params, GradReduction::kSum).
at::Tensor supervised_tokens_in_batch(const std::vector<at::Tensor>& micro_batch_labels,
                                      const Distributed* dist = nullptr);

}  // namespace vlm::train
