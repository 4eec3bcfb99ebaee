// The KV cache of several independent sequences decoded together (continuous batching, as vLLM and
// llama.cpp's server do it): rows of different lengths share one left-padded cache, so one decoder
// forward advances all of them by a token; rows join (after their own B=1 prefill) and leave
// between steps. Positions come from the mask (cumsum - 1), so padding never shifts a row's RoPE.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "models/decoder.h"

namespace vlm::serve {

// Shape letters: B rows, S cached positions (left padding included), Hkv key/value heads, Dh head dim, V vocab.
class BatchedCache {
 public:
  int64_t rows() const { return mask_.defined() ? mask_.size(0) : 0; }
  int64_t length() const { return mask_.defined() ? mask_.size(1) : 0; }
  // Appends a sequence's B=1 cache (its prompt fully cached, no padding) as the last row.
  void add_row(const models::KVCache& single);
  // Keeps the rows listed (in that order) and drops padding columns no row needs any more.
  void keep_rows(const std::vector<int64_t>& rows);
  // One decoder forward of the next token of every row (B), returning the last logits (B, V) fp32.
  at::Tensor step(models::DecoderLMImpl& lm, const at::Tensor& next_ids);

 private:
  models::KVCache cache_;
  at::Tensor mask_;  // (B, S) int64, 1 = token, 0 = left padding
};

}  // namespace vlm::serve
