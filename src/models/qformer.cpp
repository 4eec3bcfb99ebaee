// BLIP-2's Q-Former over our DistilBERT/BERT blocks (see qformer.h). The four modes differ only in
// which streams exist and the self-attention mask (LAVIS Qformer.py BertLayer.forward and
// get_extended_attention_mask): queries run cross-attention and the query FFN, text the text FFN.
// Shape letters: B batch, Q queries, T text tokens, P vision tokens, D width, Dv vision width, E embedding.
#include "models/qformer.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/atomic_file.h"
#include "models/config_fields.h"
#include "models/encoder_ops.h"
#include "models/hf_config.h"

namespace vlm::models {
namespace {

constexpr const char* kModelType = "vlm_qformer";

void init_linear(Linear& l, double std) {
  l->weight.normal_(0.0, std);
  l->bias.zero_();
}

void init_block(AttentionBlock& b, double std) {
  for (auto* l : {&b.query, &b.key, &b.value, &b.out}) init_linear(*l, std);
  b.norm->weight.fill_(1.0);
  b.norm->bias.zero_();
}

void copy_block(FeedForwardBlock& to, const FeedForwardBlock& from) {
  to.up->weight.copy_(from.up->weight);
  to.up->bias.copy_(from.up->bias);
  to.down->weight.copy_(from.down->weight);
  to.down->bias.copy_(from.down->bias);
  to.norm->weight.copy_(from.norm->weight);
  to.norm->bias.copy_(from.norm->bias);
}

// The text encoder's config.json (a DistilBERT or BERT one) into cfg.
// The text encoder's dimensions, after the whole config is checked (the base class is built first).
EncoderDims validated_text_dims(const QFormerConfig& cfg) {
  cfg.validate();
  return cfg.text_dims();
}

void set_text_config(QFormerConfig& cfg, const HfConfig& text) {
  cfg.text_model_type = text.require_string("model_type");
  if (cfg.text_model_type == "distilbert") cfg.distilbert = DistilBertConfig::from_hf(text);
  else if (cfg.text_model_type == "bert") cfg.bert = BertConfig::from_hf(text);
  else throw FileError(text.origin(), str("model_type '", cfg.text_model_type, "' is not distilbert or bert"),
                       "the Q-Former's text encoder is a DistilBERT or BERT");
}

}  // namespace

EncoderDims QFormerConfig::text_dims() const {
  if (text_model_type == "bert") {
    BertConfig b = bert;
    b.add_pooling_layer = false;
    return dims_of(b);
  }
  return dims_of(distilbert);
}

void QFormerConfig::validate() const {
  if (text_model_type == "bert") bert.validate();
  else if (text_model_type == "distilbert") distilbert.validate();
  else
    throw ConfigError("qformer.text_model_type", str("'", text_model_type, "' is not a text encoder"),
                      "use distilbert or bert");
  if (num_query_tokens <= 0) throw ConfigError("qformer.num_query_tokens", "must be positive");
  if (cross_attention_freq <= 0) throw ConfigError("qformer.cross_attention_freq", "must be positive");
  if (encoder_width <= 0) throw ConfigError("qformer.encoder_width", "must be positive", "set it to the ViT's hidden_size");
  if (embed_dim <= 0) throw ConfigError("qformer.embed_dim", "must be positive");
}

QFormerConfig QFormerConfig::from_hf(const HfConfig& j) {
  const std::string type = j.require_string("model_type");
  if (type != kModelType)
    throw FileError(j.origin(), str("model_type is '", type, "', expected '", kModelType, "'"),
                    "to start from a DistilBERT/BERT folder use init_qformer_from_text_encoder");
  QFormerConfig c = read_fields<QFormerConfig>(j);
  set_text_config(c, j.sub("text_config"));
  return c;
}

QFormerConfig QFormerConfig::from_json(const std::string& path) { return from_hf(HfConfig::load(path)); }

nlohmann::json QFormerConfig::to_json() const {
  nlohmann::json j = write_fields(*this, kModelType);
  j["text_config"] = text_model_type == "bert" ? bert.to_json() : distilbert.to_json();
  return j;
}

QFormerConfig QFormerConfig::tiny() {
  QFormerConfig c;
  c.num_query_tokens = 4;
  c.encoder_width = 24;
  c.embed_dim = 16;
  c.distilbert = DistilBertConfig::tiny();
  c.bert = BertConfig::tiny();
  return c;
}

QFormerImpl::QFormerImpl(const QFormerConfig& cfg) : TextEncoderImpl(validated_text_dims(cfg)), cfg_(cfg) {
  const EncoderDims& d = dims();
  const int64_t D = d.hidden_size;
  query_tokens_ = register_parameter("query_tokens", torch::zeros({1, cfg_.num_query_tokens, D}));
  torch::NoGradGuard no_grad;
  query_tokens_.normal_(0.0, cfg_.initializer_range);
  for (int64_t i = 0; i < d.num_layers; ++i) {
    EncoderLayer layer = this->layer(i);
    if (i % cfg_.cross_attention_freq == 0) {
      cross_.emplace_back(make_attention(*layer, d, "crossattention", "ca_layer_norm", cfg_.encoder_width));
      init_block(*cross_.back(), cfg_.initializer_range);
    } else {
      cross_.emplace_back(std::nullopt);
    }
    if (cfg_.query_ffn) {
      query_ffn_.push_back(make_feed_forward(*layer, d, "_query"));
      copy_block(query_ffn_.back(), layer->ffn);
    }
  }
  vision_proj_ = register_module("vision_proj", Linear(D, cfg_.embed_dim));
  text_proj_ = register_module("text_proj", Linear(D, cfg_.embed_dim));
  itm_head_ = register_module("itm_head", Linear(D, 2));
  for (auto* l : {&vision_proj_, &text_proj_, &itm_head_}) init_linear(*l, cfg_.initializer_range);
}

at::Tensor QFormerImpl::self_attention_mask(Mode mode, int64_t B, int64_t Q, int64_t T, const at::Tensor& attention_mask,
                                            at::ScalarType dtype, const c10::Device& device) const {
  if (mode == Mode::kImage) return {};
  const auto bool_opts = torch::TensorOptions().dtype(torch::kBool).device(device);
  at::Tensor keys = torch::ones({B, Q + T}, bool_opts);  // (B, Q + T) which keys exist
  if (attention_mask.defined()) {
    TORCH_CHECK(attention_mask.dim() == 2 && attention_mask.size(0) == B && attention_mask.size(1) == T,
                "attention_mask must be (B, T) = (", B, ", ", T, "), got ", attention_mask.sizes());
    keys.slice(1, Q).copy_(attention_mask.ne(0));
  }
  at::Tensor allowed = keys.view({B, 1, 1, Q + T});  // (B, 1, 1, Q + T)
  if (mode == Mode::kCausal) {
    // Rows are queries then text: queries see queries only; text sees all queries and text up to itself.
    const auto idx = torch::arange(Q + T, torch::TensorOptions().dtype(torch::kLong).device(device));
    const auto row = idx.view({-1, 1}), col = idx.view({1, -1});
    const auto rule = (col < Q).logical_and(row < Q).logical_or((row >= Q).logical_and(col <= row));  // (Q+T, Q+T)
    allowed = allowed.logical_and(rule.view({1, 1, Q + T, Q + T}));  // (B, 1, Q + T, Q + T)
  }
  return additive_from_bool(allowed, dtype);
}

QFormerOutput QFormerImpl::run(Mode mode, const at::Tensor& vision_feats, const at::Tensor& input_ids,
                               const at::Tensor& attention_mask) {
  const EncoderDims& d = dims();
  const bool has_queries = mode != Mode::kText, has_text = mode != Mode::kImage;
  at::Tensor vision, queries, text;
  if (has_queries) {
    check_rank(vision_feats, 3, "vision_feats", "(B, P, Dv)");
    TORCH_CHECK(vision_feats.size(2) == cfg_.encoder_width, "vision features are ", vision_feats.size(2),
                " wide, the Q-Former's encoder_width is ", cfg_.encoder_width);
    vision = vision_feats.to(query_tokens_.scalar_type());
    const int64_t B = vision.size(0);
    queries = embed_norm(query_tokens_.expand({B, cfg_.num_query_tokens, d.hidden_size}));  // (B, Q, D)
  }
  if (has_text) {
    text = embed(input_ids);  // (B, T, D)
    TORCH_CHECK(!has_queries || text.size(0) == queries.size(0), "batch of ", text.size(0), " texts for ",
                queries.size(0), " images");
  }
  const int64_t Q = has_queries ? cfg_.num_query_tokens : 0, T = has_text ? text.size(1) : 0;
  const int64_t B = has_queries ? queries.size(0) : text.size(0);
  at::Tensor x = !has_queries ? text : !has_text ? queries : torch::cat({queries, text}, 1);  // (B, Q + T, D)
  const at::Tensor mask = self_attention_mask(mode, B, Q, T, attention_mask, x.scalar_type(), x.device());

  // Each block reads the mode of the layer it is registered in: train()/eval() are the only switch.
  for (int64_t i = 0; i < d.num_layers; ++i) {
    EncoderLayer layer = this->layer(i);
    const bool training = layer->is_training();
    const at::Tensor a = layer->attention.forward(x, x, mask, d, training);  // (B, Q + T, D)
    if (Q == 0) {
      x = layer->ffn.forward(a, d, training);
      continue;
    }
    at::Tensor q = a.slice(1, 0, Q);  // (B, Q, D)
    if (cross_[i]) q = cross_[i]->forward(q, vision, at::Tensor(), d, training);
    q = (cfg_.query_ffn ? query_ffn_[i] : layer->ffn).forward(q, d, training);
    x = T == 0 ? q : torch::cat({q, layer->ffn.forward(a.slice(1, Q), d, training)}, 1);  // (B, Q + T, D)
  }
  QFormerOutput out;
  if (has_queries) out.query = x.slice(1, 0, Q);  // (B, Q, D)
  if (has_text) out.text = x.slice(1, Q);         // (B, T, D)
  return out;
}

at::Tensor QFormerImpl::forward_image(const at::Tensor& vision_feats) {
  return run(Mode::kImage, vision_feats, {}, {}).query;
}

at::Tensor QFormerImpl::forward_text(const at::Tensor& input_ids, const at::Tensor& attention_mask) {
  return run(Mode::kText, {}, input_ids, attention_mask).text;
}

QFormerOutput QFormerImpl::forward_multimodal(const at::Tensor& vision_feats, const at::Tensor& input_ids,
                                              const at::Tensor& attention_mask) {
  return run(Mode::kMultimodal, vision_feats, input_ids, attention_mask);
}

QFormerOutput QFormerImpl::forward_causal(const at::Tensor& vision_feats, const at::Tensor& input_ids,
                                          const at::Tensor& attention_mask) {
  return run(Mode::kCausal, vision_feats, input_ids, attention_mask);
}

at::Tensor QFormerImpl::image_embeds(const at::Tensor& vision_feats) { return project_queries(forward_image(vision_feats)); }

at::Tensor QFormerImpl::project_queries(const at::Tensor& query_hidden) {
  return torch::nn::functional::normalize(vision_proj_(query_hidden),
                                          torch::nn::functional::NormalizeFuncOptions().dim(-1));  // (B, Q, E)
}

at::Tensor QFormerImpl::text_embed(const at::Tensor& input_ids, const at::Tensor& attention_mask) {
  const at::Tensor cls = forward_text(input_ids, attention_mask).select(1, 0);  // (B, D)
  return torch::nn::functional::normalize(text_proj_(cls), torch::nn::functional::NormalizeFuncOptions().dim(-1));
}

at::Tensor QFormerImpl::pooled_image_embeds(const at::Tensor& image_embeds) const {
  check_rank(image_embeds, 3, "image_embeds", "(B, Q, E)");
  if (cfg_.similarity == config::QuerySimilarity::kMax) return image_embeds;  // (B, Q, E)
  return torch::nn::functional::normalize(image_embeds.mean(1),
                                          torch::nn::functional::NormalizeFuncOptions().dim(-1));  // (B, E)
}

at::Tensor QFormerImpl::similarity(const at::Tensor& image_embeds, const at::Tensor& text_embeds) const {
  check_rank(text_embeds, 2, "text_embeds", "(Bt, E)");
  const at::Tensor image = pooled_image_embeds(image_embeds);
  if (image.dim() == 2) return torch::matmul(image, text_embeds.t());  // (Bi, Bt)
  const at::Tensor per_query = torch::matmul(image.unsqueeze(1), text_embeds.unsqueeze(-1)).squeeze(-1);  // (Bi, Bt, Q)
  return std::get<0>(per_query.max(-1));  // (Bi, Bt)
}

at::Tensor QFormerImpl::itm_logits(const at::Tensor& vision_feats, const at::Tensor& input_ids,
                                   const at::Tensor& attention_mask) {
  return itm_head_(forward_multimodal(vision_feats, input_ids, attention_mask).query).mean(1);  // (B, 2)
}

bool is_qformer_cross_or_query(const std::string& name) {
  return name == "query_tokens" || name.find(".crossattention.") != std::string::npos ||
         name.find(".ca_layer_norm.") != std::string::npos;
}

NameTable qformer_name_table(const QFormerConfig& cfg) {
  NameTable t;
  t.model = "Q-Former";
  return t;
}

NameTable qformer_init_table(const QFormerConfig& cfg) {
  const EncoderDims d = cfg.text_dims();
  NameTable t = text_encoder_name_table(d);
  t.model = str("Q-Former (from ", d.layout == EncoderLayout::kBert ? "BERT" : "DistilBERT", ")");
  if (d.layout == EncoderLayout::kBert) t.skip.push_back({"pooler.*", "the Q-Former has no pooler"});
  const std::string reason = "new in the Q-Former: random init";
  t.optional = {{"query_tokens", reason}, {"*.crossattention.*", reason}, {"*.ca_layer_norm.*", reason},
                {"vision_proj.*", reason}, {"text_proj.*", reason},       {"itm_head.*", reason}};
  const std::string ffn = "query FFN starts as the text FFN (BLIP-2)";
  if (d.layout == EncoderLayout::kBert)
    t.fallbacks = {{R"(^(.*)\.intermediate_query\.(.*)$)", "$1.intermediate.$2", ffn},
                   {R"(^(.*)\.output_query\.(.*)$)", "$1.output.$2", ffn}};
  else
    t.fallbacks = {{R"(^(.*)\.ffn_query\.(.*)$)", "$1.ffn.$2", ffn},
                   {R"(^(.*)\.output_layer_norm_query\.(.*)$)", "$1.output_layer_norm.$2", ffn}};
  return t;
}

LoadedQFormer load_qformer(const std::string& folder) {
  const QFormerConfig cfg = QFormerConfig::from_json(folder);
  QFormer model(cfg);
  LoadReport report = load_weights(*model, folder, qformer_name_table(cfg));
  model->eval();
  return {cfg, model, report};
}

LoadedQFormer init_qformer_from_text_encoder(QFormerConfig cfg, const std::string& text_folder) {
  set_text_config(cfg, HfConfig::load(text_folder));
  QFormer model(cfg);
  LoadReport report = load_weights(*model, text_folder, qformer_init_table(cfg));
  return {cfg, model, report};
}

void save_qformer(const QFormer& model, const std::string& folder) {
  io::write_dir_atomic(folder, [&](const std::string& tmp) {
    write_config_json(tmp + "/config.json", model->config().to_json());
    save_weights(*model, tmp + "/model.safetensors", qformer_name_table(model->config()));
  });
}

}  // namespace vlm::models
