// Pieces the encoder models (ViT, DistilBERT, BERT, Q-Former, adapter) share: the activation
// named by an HF config's hidden_act, multi-head attention over Linear projections, attention
// masks, HF-style initialisers, and empty "group" modules that only give names to their children
// (so `attention.output.dense` needs no class of its own). Follows transformers' activations.py
// and the _init_weights of modeling_vit.py / modeling_bert.py.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "models/linear.h"

namespace vlm::models {

// Shape letters: B batch, T query length, S key length, D width, H heads, Dh head width.

// "gelu" (exact erf), "gelu_new" / "gelu_pytorch_tanh" (tanh approximation), "relu", "silu" / "swish".
at::Tensor activation(const std::string& name, const at::Tensor& x);
bool is_known_activation(const std::string& name);

// A child module with no tensors of its own, registered as `name`: a namespace for its children.
std::shared_ptr<torch::nn::Module> add_group(torch::nn::Module& parent, const std::string& name);

// softmax(q k^T / sqrt(Dh) + mask) v with heads split out of q(x), k(kv), v(kv); returns (B, T, D)
// before the output projection. `mask`: additive, broadcastable to (B, H, T, S), or undefined.
// Attention-probability dropout is applied when training with p > 0 (then the explicit path runs).
at::Tensor multi_head_attention(Linear& query, Linear& key, Linear& value,
                                const at::Tensor& x, const at::Tensor& kv, const at::Tensor& mask, int64_t num_heads,
                                double dropout_p, bool training);

// attention_mask (B, S) with 1 = attend, 0 = padding -> additive (B, 1, 1, S) in `dtype`
// (0 or the dtype's lowest value, as transformers does, so fully padded rows stay finite).
at::Tensor additive_padding_mask(const at::Tensor& attention_mask, at::ScalarType dtype);
// A boolean "may attend" mask broadcastable to (B, H, T, S) -> additive in `dtype`.
at::Tensor additive_from_bool(const at::Tensor& allowed, at::ScalarType dtype);

// torch.nn.init.trunc_normal_(t, mean=0, std, a, b) by inverse-CDF sampling (bounds are absolute values).
void trunc_normal_(at::Tensor t, double std, double a = -2.0, double b = 2.0);
// transformers' _init_weights for encoders: Linear/Conv2d/Embedding weights ~ N(0, std) (truncated when
// `truncated`, as ViT does), biases 0, LayerNorm weight 1 and bias 0; an Embedding's padding_idx row zeroed.
void init_module_weights(torch::nn::Module& module, double std, bool truncated);

// Shape check with a readable message at a model's entry point.
void check_rank(const at::Tensor& t, int64_t rank, const char* what, const char* shape);

}  // namespace vlm::models
