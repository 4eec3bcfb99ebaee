// The mission's model shapes with random weights, for the benchmarks: google/vit-base-patch16-224,
// a Q-Former from distilbert-base-uncased (32 queries, cross-attention in every layer, as
// configs/cc-*/stage1.yaml), and SmolLM-135M or Qwen3-0.6B.
#pragma once

#include <stdexcept>
#include <string>

#include "models/decoder.h"
#include "models/qformer.h"
#include "models/vit.h"

namespace vlm::bench {

inline models::ViTConfig vit_base_16() { return models::ViTConfig{}; }  // the defaults are ViT-B/16 at 224

inline models::QFormerConfig qformer_distilbert(int64_t vision_width) {
  models::QFormerConfig q;  // distilbert-base-uncased text encoder by default
  q.num_query_tokens = 32;
  q.cross_attention_freq = 1;
  q.encoder_width = vision_width;
  q.embed_dim = 256;
  q.similarity = vlm::config::QuerySimilarity::kMean;
  return q;
}

inline models::DecoderConfig lm_config(const std::string& name) {
  if (name == "smollm") return models::DecoderConfig::smollm_135m();
  if (name == "qwen3") return models::DecoderConfig::qwen3_0_6b();
  throw std::invalid_argument("unknown LM '" + name + "' (smollm or qwen3)");
}

}  // namespace vlm::bench
