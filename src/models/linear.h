// The Linear layer every model here uses: torch::nn::Linear with a forward that calls at::linear.
//
// Why not torch::nn::Linear itself: LibTorch's C++ `LinearImpl::forward` (1.13 and 2.x) computes
// `input.matmul(weight.t())` and then `output += bias` in place whenever the input is not 2-D.
// Under bf16 autocast the product is bf16 and the bias stays fp32, so that add runs through
// TensorIterator's mixed-dtype path: on this CPU 17 ms against 0.6 ms for a (192, 32, 384) output,
// and it was 39% of a demo stage-1 step. at::linear is the op autocast casts as a whole (bias
// included) and fuses into one addmm. Same parameters, names and options as torch::nn::Linear, so
// checkpoints and HF weight names do not change.
#pragma once

#include <torch/torch.h>

namespace vlm::models {

class LinearImpl : public torch::nn::LinearImpl {
 public:
  using torch::nn::LinearImpl::LinearImpl;
  at::Tensor forward(const at::Tensor& input) { return torch::linear(input, weight, bias); }
};
TORCH_MODULE(Linear);

}  // namespace vlm::models
