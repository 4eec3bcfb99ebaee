// Shared encoder pieces (see encoder_ops.h): activations after transformers' activations.py,
// attention over compat::attention, HF-style masks and initialisers.
#include "models/encoder_ops.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/torch_compat.h"

namespace vlm::models {
namespace {

// finfo(dtype).min: what transformers puts at masked positions (finite, so no row becomes NaN).
double lowest_value(at::ScalarType dtype) {
  if (dtype == at::kDouble) return std::numeric_limits<double>::lowest();
  if (dtype == at::kBFloat16) return -3.3895313892515355e38;
  if (dtype == at::kHalf) return -65504.0;
  return static_cast<double>(std::numeric_limits<float>::lowest());
}

}  // namespace

bool is_known_activation(const std::string& name) {
  return name == "gelu" || name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "relu" || name == "silu" ||
         name == "swish";
}

at::Tensor activation(const std::string& name, const at::Tensor& x) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return torch::gelu(x, "tanh");
  if (name == "relu") return torch::relu(x);
  if (name == "silu" || name == "swish") return torch::silu(x);
  throw Error(str("unknown activation '", name, "'"), "use gelu, gelu_new, gelu_pytorch_tanh, relu, silu or swish");
}

std::shared_ptr<torch::nn::Module> add_group(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>(name));
}

at::Tensor multi_head_attention(Linear& query, Linear& key, Linear& value,
                                const at::Tensor& x, const at::Tensor& kv, const at::Tensor& mask, int64_t num_heads,
                                double dropout_p, bool training) {
  const int64_t B = x.size(0), T = x.size(1), S = kv.size(1);
  const int64_t D = query->options.out_features();
  const int64_t Dh = D / num_heads;
  const at::Tensor q = query(x).view({B, T, num_heads, Dh}).transpose(1, 2);   // (B, H, T, Dh)
  const at::Tensor k = key(kv).view({B, S, num_heads, Dh}).transpose(1, 2);    // (B, H, S, Dh)
  const at::Tensor v = value(kv).view({B, S, num_heads, Dh}).transpose(1, 2);  // (B, H, S, Dh)
  const double scale = 1.0 / std::sqrt(static_cast<double>(Dh));
  at::Tensor m = mask;  // under autocast q is bf16 while the mask was built in fp32; fused attention wants them equal
  if (m.defined() && m.scalar_type() != q.scalar_type())
    m = m.clamp_min(lowest_value(q.scalar_type())).to(q.scalar_type());
  at::Tensor context;
  if (training && dropout_p > 0.0) {
    at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale;  // (B, H, T, S)
    if (m.defined()) scores = scores + m;
    context = at::matmul(torch::dropout(at::softmax(scores, -1), dropout_p, /*train=*/true), v);  // (B, H, T, Dh)
  } else {
    context = compat::attention(q, k, v, m, /*is_causal=*/false, scale);  // (B, H, T, Dh)
  }
  return context.transpose(1, 2).reshape({B, T, D});  // (B, T, D)
}

at::Tensor additive_padding_mask(const at::Tensor& attention_mask, at::ScalarType dtype) {
  TORCH_CHECK(attention_mask.dim() == 2, "attention_mask must be (B, S), got ", attention_mask.sizes());
  return additive_from_bool(attention_mask.ne(0).view({attention_mask.size(0), 1, 1, attention_mask.size(1)}),
                            dtype);  // (B, 1, 1, S)
}

at::Tensor additive_from_bool(const at::Tensor& allowed, at::ScalarType dtype) {
  return at::zeros(allowed.sizes(), allowed.options().dtype(dtype)).masked_fill(allowed.logical_not(), lowest_value(dtype));
}

void trunc_normal_(at::Tensor t, double std, double a, double b) {
  torch::NoGradGuard no_grad;
  auto cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
  const double lo = cdf(a / std), hi = cdf(b / std);
  t.uniform_(2 * lo - 1, 2 * hi - 1).erfinv_().mul_(std * std::sqrt(2.0)).clamp_(a, b);
}

void init_module_weights(torch::nn::Module& module, double std, bool truncated) {
  torch::NoGradGuard no_grad;
  auto normal = [&](at::Tensor w) {
    if (truncated) trunc_normal_(w, std);
    else w.normal_(0.0, std);
  };
  for (auto& m : module.modules(/*include_self=*/false)) {  // self is no leaf layer; and may not be in a shared_ptr yet
    if (auto* linear = m->as<torch::nn::Linear>()) {
      normal(linear->weight);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* conv = m->as<torch::nn::Conv2d>()) {
      normal(conv->weight);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* emb = m->as<torch::nn::Embedding>()) {
      normal(emb->weight);
      if (const auto& pad = emb->options.padding_idx()) emb->weight[*pad].zero_();
    } else if (auto* ln = m->as<torch::nn::LayerNorm>()) {
      ln->weight.fill_(1.0);
      ln->bias.zero_();
    }
  }
}

void check_rank(const at::Tensor& t, int64_t rank, const char* what, const char* shape) {
  TORCH_CHECK(t.defined() && t.dim() == rank, what, " must be ", shape, ", got ",
              t.defined() ? c10::str(t.sizes()) : std::string("an undefined tensor"));
}

}  // namespace vlm::models
