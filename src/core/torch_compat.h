// The only place that knows LibTorch versions: Debian's 1.13 (CPU) and 2.x (CUDA).
// Everything else calls these helpers. Facts behind each branch: shared LIBTORCH.md.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <sstream>
#include <string>
#include <type_traits>

#define VLM_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace c10d {
class ProcessGroup;
class Backend;
}  // namespace c10d

namespace vlm::compat {

// The c10d class that Gloo/NCCL implement and that collectives are called on: ProcessGroup in
// 1.13, Backend (wrapped by a dispatching ProcessGroup) since 2.0. Same collective signatures.
#if VLM_TORCH_AT_LEAST(2, 0)
using CommBackend = c10d::Backend;
#else
using CommBackend = c10d::ProcessGroup;
#endif

// True when the fused at::scaled_dot_product_attention (flash / memory-efficient on CUDA) exists.
constexpr bool kHasFusedAttention = VLM_TORCH_AT_LEAST(2, 0);

// softmax(q k^T * scale + mask) v. q,k,v: (B, H, T, Dh). `mask` is additive float
// (0 keep, -inf drop) broadcastable to (B, H, Tq, Tk), or undefined. The fused kernel is used
// where the LibTorch has it; the explicit path is kept (and tested equal) for 1.13.
inline at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& mask, bool is_causal, double scale) {
#if VLM_TORCH_AT_LEAST(2, 1)
  return at::scaled_dot_product_attention(q, k, v, mask.defined() ? c10::optional<at::Tensor>(mask) : c10::nullopt,
                                          /*dropout_p=*/0.0, is_causal, scale);
#else
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale;  // (B, H, Tq, Tk)
  if (is_causal) {
    const int64_t tq = q.size(-2), tk = k.size(-2);
    auto causal = at::ones({tq, tk}, q.options().dtype(at::kBool)).triu(tk - tq + 1);
    scores = scores.masked_fill(causal, -std::numeric_limits<float>::infinity());
  }
  if (mask.defined()) scores = scores + mask;
  return at::matmul(at::softmax(scores, -1), v);  // (B, H, Tq, Dh)
#endif
}

// The explicit softmax(QK^T)V, always available: the reference the fused path is tested against.
inline at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                      const at::Tensor& mask, bool is_causal, double scale) {
  at::Tensor scores = at::matmul(q.to(at::kFloat), k.to(at::kFloat).transpose(-2, -1)) * scale;
  if (is_causal) {
    const int64_t tq = q.size(-2), tk = k.size(-2);
    auto causal = at::ones({tq, tk}, q.options().dtype(at::kBool)).triu(tk - tq + 1);
    scores = scores.masked_fill(causal, -std::numeric_limits<float>::infinity());
  }
  if (mask.defined()) scores = scores + mask.to(at::kFloat);
  return at::matmul(at::softmax(scores, -1), v.to(at::kFloat)).to(q.scalar_type());
}

// Multiplies each tensor of `tensors` in place by the 0-dim tensor `factor` (same dtype and
// device) without reading it on the host: one multi-tensor kernel where LibTorch has that
// overload (2.1+), a loop of mul_ before.
inline void foreach_mul_(at::TensorList tensors, const at::Tensor& factor) {
#if VLM_TORCH_AT_LEAST(2, 1)
  at::_foreach_mul_(tensors, factor);
#else
  for (const at::Tensor& t : tensors) t.mul_(factor);
#endif
}

// The key of a parameter in Optimizer::state(): the address of its TensorImpl, printed into a
// string on 1.13, the raw pointer in later versions. (A template so the other branch is discarded.)
template <typename Param = at::Tensor>
auto optimizer_state_key(const Param& param) {
  using Optimizer = std::conditional_t<std::is_same_v<Param, at::Tensor>, torch::optim::Optimizer, void>;
  using Key = typename std::decay_t<decltype(std::declval<Optimizer&>().state())>::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream out;
    out << param.unsafeGetTensorImpl();
    return Key(out.str());
  } else {
    return Key(param.unsafeGetTensorImpl());
  }
}

// Turns autocast on or off for a device type with the given low-precision dtype.
inline void set_autocast(c10::DeviceType device, bool enabled, at::ScalarType dtype) {
#if VLM_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(device, enabled);
  at::autocast::set_autocast_dtype(device, dtype);
#else
  if (device == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

inline bool autocast_enabled(c10::DeviceType device) {
#if VLM_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(device);
#else
  return device == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

// RAII autocast region. On exit the cast cache is cleared: 2.x caches bf16 copies of fp32
// weights, which go stale once the optimizer updates them.
class AutocastGuard {
 public:
  AutocastGuard(c10::DeviceType device, bool enabled, at::ScalarType dtype = at::kBFloat16)
      : device_(device), was_enabled_(autocast_enabled(device)), enabled_(enabled) {
    if (enabled_) {
      set_autocast(device_, true, dtype);
      at::autocast::increment_nesting();
    }
  }
  ~AutocastGuard() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_autocast(device_, was_enabled_, at::kBFloat16);
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  c10::DeviceType device_;
  bool was_enabled_;
  bool enabled_;
};

}  // namespace vlm::compat
