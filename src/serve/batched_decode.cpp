// Continuous-batching KV cache (see batched_decode.h).
// Shape letters: B rows, S cached positions, Hkv key/value heads, Dh head dim, V vocab.
#include "serve/batched_decode.h"

#include <torch/torch.h>

namespace vlm::serve {
namespace {

// x (B, Hkv, S, Dh) with `pad` zero columns added on the left: (B, Hkv, pad + S, Dh).
at::Tensor pad_left(const at::Tensor& x, int64_t pad) {
  if (pad == 0) return x;
  return torch::cat({torch::zeros({x.size(0), x.size(1), pad, x.size(3)}, x.options()), x}, 2);
}

}  // namespace

void BatchedCache::add_row(const models::KVCache& single) {
  TORCH_CHECK(!single.layers.empty() && single.layers[0].keys.defined() && single.layers[0].keys.size(0) == 1,
              "add_row needs a filled B=1 cache");
  const int64_t s_new = single.length(), s_old = length();
  const int64_t S = std::max(s_new, s_old);
  const auto mask_opts = torch::TensorOptions().dtype(at::kLong).device(single.layers[0].keys.device());
  const at::Tensor row_mask =
      torch::cat({torch::zeros({1, S - s_new}, mask_opts), torch::ones({1, s_new}, mask_opts)}, 1);  // (1, S)
  if (rows() == 0) {
    cache_ = models::KVCache{};
    cache_.layers.resize(single.layers.size());
    for (size_t l = 0; l < single.layers.size(); ++l) {
      cache_.layers[l].keys = single.layers[l].keys;      // (1, Hkv, S, Dh)
      cache_.layers[l].values = single.layers[l].values;  // (1, Hkv, S, Dh)
    }
    mask_ = row_mask;
    return;
  }
  TORCH_CHECK(single.layers.size() == cache_.layers.size(), "add_row: ", single.layers.size(), " layers, batch has ",
              cache_.layers.size());
  for (size_t l = 0; l < cache_.layers.size(); ++l) {
    auto& layer = cache_.layers[l];
    layer.keys = torch::cat({pad_left(layer.keys, S - s_old), pad_left(single.layers[l].keys, S - s_new)}, 0);  // (B + 1, Hkv, S, Dh)
    layer.values = torch::cat({pad_left(layer.values, S - s_old), pad_left(single.layers[l].values, S - s_new)}, 0);
  }
  const at::Tensor old_mask = torch::cat({torch::zeros({rows(), S - s_old}, mask_opts), mask_}, 1);  // (B, S)
  mask_ = torch::cat({old_mask, row_mask}, 0);  // (B + 1, S)
}

void BatchedCache::keep_rows(const std::vector<int64_t>& rows_to_keep) {
  if (rows_to_keep.empty()) {
    cache_ = models::KVCache{};
    mask_ = at::Tensor();
    return;
  }
  if (static_cast<int64_t>(rows_to_keep.size()) == rows()) {
    bool same = true;
    for (size_t i = 0; i < rows_to_keep.size(); ++i) same = same && rows_to_keep[i] == static_cast<int64_t>(i);
    if (same) return;
  }
  const at::Tensor index = torch::tensor(rows_to_keep, torch::TensorOptions().dtype(at::kLong)).to(mask_.device());
  mask_ = mask_.index_select(0, index);  // (B', S)
  // Columns that are padding in every remaining row: the longest row's start.
  const int64_t first = (mask_.sum(0) > 0).to(at::kLong).argmax().item<int64_t>();
  mask_ = mask_.slice(1, first);  // (B', S')
  for (auto& layer : cache_.layers) {
    layer.keys = layer.keys.index_select(0, index).slice(2, first);      // (B', Hkv, S', Dh)
    layer.values = layer.values.index_select(0, index).slice(2, first);  // (B', Hkv, S', Dh)
  }
}

at::Tensor BatchedCache::step(models::DecoderLMImpl& lm, const at::Tensor& next_ids) {
  TORCH_CHECK(next_ids.dim() == 1 && next_ids.size(0) == rows(), "step: ", next_ids.sizes(), " ids for ", rows(),
              " rows");
  mask_ = torch::cat({mask_, torch::ones({rows(), 1}, mask_.options())}, 1);  // (B, S + 1)
  const models::DecoderOutput out = lm.forward({.input_ids = next_ids.to(mask_.device()).unsqueeze(1),  // (B, 1)
                                                .attention_mask = mask_,
                                                .cache = &cache_,
                                                .logits_to_keep = 1});
  return out.logits.select(1, -1).to(at::kFloat);  // (B, V)
}

}  // namespace vlm::serve
