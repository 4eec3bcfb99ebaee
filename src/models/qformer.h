// The Q-Former of BLIP-2 (Li et al. 2023; facts from LAVIS' Qformer.py and transformers'
// Blip2QFormerModel): a BERT-style encoder (DistilBERT or BERT weights, either layout) plus learnable
// query tokens that cross-attend to frozen vision features every cross_attention_freq layers. Queries
// and text share the self-attention; queries have their own FFN (initialised from the text FFN).
// Module names are the text encoder's for the shared parts (so distilbert-base-uncased initialises it
// through the same name table) and BLIP-2's for the new ones (crossattention, intermediate_query, ...).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "config/enums.h"
#include "models/bert.h"
#include "models/linear.h"
#include "models/weights.h"

namespace vlm::models {

class HfConfig;

struct QFormerConfig {
  int64_t num_query_tokens = 32;       // e.g. 32 learnable queries
  int64_t cross_attention_freq = 2;    // e.g. 2: layers 0, 2, 4, ... cross-attend to the image
  int64_t encoder_width = 768;         // e.g. 768: width of the vision features (the ViT's hidden_size)
  int64_t embed_dim = 256;             // e.g. 256: shared image-text embedding width
  config::QuerySimilarity similarity = config::QuerySimilarity::kMax;  // e.g. "max" over queries (BLIP-2) or "mean"
  bool query_ffn = true;               // e.g. true: queries get their own FFN (BLIP-2)
  double initializer_range = 0.02;     // e.g. 0.02: std of the new weights and the query tokens
  std::string text_model_type = "distilbert";  // e.g. "distilbert" or "bert": which config below is used
  DistilBertConfig distilbert;         // the text encoder when text_model_type is "distilbert"
  BertConfig bert;                     // the text encoder when "bert" (its pooler is never built)

  // The config.json keys besides "text_config", listed once: from_hf and to_json visit this list
  // (config_fields.h); text_config holds the text encoder's own config.json.
  template <class Self, class F>
  static void fields(Self& c, F&& f) {
    f("num_query_tokens", c.num_query_tokens);
    f("cross_attention_freq", c.cross_attention_freq);
    f("encoder_width", c.encoder_width);
    f("embed_dim", c.embed_dim);
    f("similarity", c.similarity);
    f("query_ffn", c.query_ffn);
    f("initializer_range", c.initializer_range);
  }

  EncoderDims text_dims() const;
  int64_t hidden_size() const { return text_dims().hidden_size; }
  void validate() const;                           // throws ConfigError with the fix
  static QFormerConfig from_hf(const HfConfig& json);  // model_type "vlm_qformer" with a "text_config" object
  static QFormerConfig from_json(const std::string& path);
  nlohmann::json to_json() const;
  static QFormerConfig tiny();                     // tests/demo: DistilBERT tiny text encoder, 4 queries, Dv 24, E 16
};

// Query and text hidden states; a part is undefined when the mode has none.
struct QFormerOutput {
  at::Tensor query;  // (B, Q, D)
  at::Tensor text;   // (B, T, D)
};

// The Q-Former is its text encoder plus the query tokens, cross-attention, query FFN and heads: it
// derives from TextEncoderImpl, so the encoder's modules are its own children under their HF names
// (the names checkpoints hold), registered once, and train()/eval() reach every block as usual.
class QFormerImpl : public TextEncoderImpl {
 public:
  // Random initialisation: the text encoder as transformers does, the new weights N(0, initializer_range),
  // the query FFN a copy of the text FFN.
  explicit QFormerImpl(const QFormerConfig& cfg);

  // Image mode: queries only, cross-attending to vision_feats (B, P, Dv) -> query (B, Q, D).
  at::Tensor forward_image(const at::Tensor& vision_feats);
  // Text mode: text only, bidirectional, no queries (the plain text encoder) -> (B, T, D).
  at::Tensor forward_text(const at::Tensor& input_ids, const at::Tensor& attention_mask = {});
  // Multimodal (image-text matching): queries and text in one self-attention, only queries cross-attend.
  QFormerOutput forward_multimodal(const at::Tensor& vision_feats, const at::Tensor& input_ids,
                                   const at::Tensor& attention_mask = {});
  // Causal text over queries (image-grounded captioning): text attends to all queries and causally to
  // earlier text; queries attend only to queries.
  QFormerOutput forward_causal(const at::Tensor& vision_feats, const at::Tensor& input_ids,
                               const at::Tensor& attention_mask = {});

  // normalize(vision_proj(queries)) (B, Q, E).
  at::Tensor image_embeds(const at::Tensor& vision_feats);
  // The same from query hidden states forward_image already gave (B, Q, D) -> (B, Q, E).
  at::Tensor project_queries(const at::Tensor& query_hidden);
  // normalize(text_proj(first token, [CLS])) (B, E).
  at::Tensor text_embed(const at::Tensor& input_ids, const at::Tensor& attention_mask = {});
  // The image side of config().similarity, the one home of that rule: "max" keeps the queries
  // (B, Q, E), each text then scoring against its best query; "mean" is the re-normalised mean query (B, E).
  at::Tensor pooled_image_embeds(const at::Tensor& image_embeds) const;
  // (Bi, Q, E) x (Bt, E) -> (Bi, Bt): max over queries ("max"), or the cosine with the re-normalised
  // mean query embedding ("mean").
  at::Tensor similarity(const at::Tensor& image_embeds, const at::Tensor& text_embeds) const;
  // Image-text matching logits: itm_head over the multimodal query outputs, averaged over queries (B, 2).
  at::Tensor itm_logits(const at::Tensor& vision_feats, const at::Tensor& input_ids,
                        const at::Tensor& attention_mask = {});

  const QFormerConfig& config() const { return cfg_; }

 private:
  enum class Mode { kImage, kText, kMultimodal, kCausal };
  QFormerOutput run(Mode mode, const at::Tensor& vision_feats, const at::Tensor& input_ids,
                    const at::Tensor& attention_mask);
  at::Tensor self_attention_mask(Mode mode, int64_t B, int64_t Q, int64_t T, const at::Tensor& attention_mask,
                                 at::ScalarType dtype, const c10::Device& device) const;

  QFormerConfig cfg_;
  at::Tensor query_tokens_;
  std::vector<std::optional<AttentionBlock>> cross_;  // per layer, set every cross_attention_freq layers
  std::vector<FeedForwardBlock> query_ffn_;           // per layer, when cfg.query_ffn
  Linear vision_proj_{nullptr}, text_proj_{nullptr}, itm_head_{nullptr};
};
TORCH_MODULE(QFormer);

// True for the weights the Q-Former adds to its text encoder that BLIP-2 trains at the full
// learning rate: the query tokens and the cross-attention blocks.
bool is_qformer_cross_or_query(const std::string& name);

// Our own Q-Former exports: every tensor present, nothing optional.
NameTable qformer_name_table(const QFormerConfig& cfg);
// Initialising from a text encoder checkpoint (distilbert-base-uncased, bert-base-uncased): the text
// encoder's table, the new weights kept at their random init, the query FFN filled from the text FFN.
NameTable qformer_init_table(const QFormerConfig& cfg);

struct LoadedQFormer {
  QFormerConfig config;
  QFormer model;
  LoadReport report;
};
// A Q-Former saved by save_qformer (config.json with model_type "vlm_qformer" + model.safetensors).
LoadedQFormer load_qformer(const std::string& folder);
// A new Q-Former whose text encoder comes from an HF DistilBERT/BERT folder; `cfg`'s text fields are
// replaced by the folder's config.json. Seed LibTorch first for a reproducible init.
LoadedQFormer init_qformer_from_text_encoder(QFormerConfig cfg, const std::string& text_folder);
// Writes config.json + model.safetensors into `folder` (created or replaced atomically).
void save_qformer(const QFormer& model, const std::string& folder);

}  // namespace vlm::models
