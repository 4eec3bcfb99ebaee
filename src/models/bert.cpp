// DistilBERT and BERT encoders after transformers' modeling_distilbert.py and modeling_bert.py (see bert.h).
// Shape letters: B batch, T tokens, D width, I FFN width, V vocab.
#include "models/bert.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/tensor_store.h"
#include "models/config_fields.h"
#include "models/encoder_ops.h"
#include "models/hf_config.h"

namespace vlm::models {
namespace {

void check_dims(const EncoderDims& d, const std::string& model) {
  auto positive = [&](int64_t v, const char* key) {
    if (v <= 0) throw ConfigError(str(model, ".", key), str("must be positive, got ", v));
  };
  positive(d.vocab_size, "vocab_size");
  positive(d.hidden_size, "hidden_size");
  positive(d.num_layers, "num_layers");
  positive(d.num_heads, "num_heads");
  positive(d.intermediate_size, "intermediate_size");
  positive(d.max_position_embeddings, "max_position_embeddings");
  if (d.hidden_size % d.num_heads != 0)
    throw ConfigError(str(model, ".num_heads"), str(d.num_heads, " heads do not divide width ", d.hidden_size),
                      "pick a head count that divides the width");
  if (!is_known_activation(d.act)) throw ConfigError(str(model, ".activation"), str("unknown activation '", d.act, "'"));
  if (d.pad_token_id < 0 || d.pad_token_id >= d.vocab_size)
    throw ConfigError(str(model, ".pad_token_id"), str(d.pad_token_id, " is outside the vocabulary of ", d.vocab_size));
  if (d.dropout < 0 || d.dropout >= 1 || d.attention_dropout < 0 || d.attention_dropout >= 1)
    throw ConfigError(str(model, ".dropout"), "dropout probabilities must be in [0, 1)");
}

// DistilBERT's create_sinusoidal_embeddings: even columns sin, odd columns cos of pos / 10000^(2(j/2)/D).
at::Tensor sinusoidal_table(int64_t positions, int64_t dim) {
  const auto pos = torch::arange(positions, torch::kDouble).unsqueeze(1);             // (T, 1)
  const auto j = torch::arange(dim, torch::kDouble).div(2, "floor").mul(2).unsqueeze(0);  // (1, D)
  const auto angle = pos / torch::pow(10000.0, j / static_cast<double>(dim));           // (T, D)
  auto table = torch::empty({positions, dim}, torch::kDouble);
  table.slice(1, 0, dim, 2).copy_(angle.slice(1, 0, dim, 2).sin());
  table.slice(1, 1, dim, 2).copy_(angle.slice(1, 1, dim, 2).cos());
  return table.to(torch::kFloat);
}

}  // namespace

void DistilBertConfig::validate() const { check_dims(dims_of(*this), "distilbert"); }

DistilBertConfig DistilBertConfig::from_hf(const HfConfig& j) {
  const std::string type = j.get_string("model_type", "distilbert");
  if (type != "distilbert") throw FileError(j.origin(), str("model_type is '", type, "', expected 'distilbert'"));
  return read_fields<DistilBertConfig>(j);
}

DistilBertConfig DistilBertConfig::from_json(const std::string& path) { return from_hf(HfConfig::load(path)); }

nlohmann::json DistilBertConfig::to_json() const { return write_fields(*this, "distilbert", "DistilBertModel"); }

DistilBertConfig DistilBertConfig::tiny() {
  DistilBertConfig c;
  c.vocab_size = 100;
  c.max_position_embeddings = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.dim = 32;
  c.hidden_dim = 64;
  return c;
}

void BertConfig::validate() const {
  check_dims(dims_of(*this), "bert");
  if (type_vocab_size <= 0) throw ConfigError("bert.type_vocab_size", "must be positive");
  if (position_embedding_type != "absolute")
    throw ConfigError("bert.position_embedding_type", str("'", position_embedding_type, "' is not supported"),
                      "only absolute position embeddings are implemented");
  if (layer_norm_eps <= 0) throw ConfigError("bert.layer_norm_eps", "must be positive");
}

BertConfig BertConfig::from_hf(const HfConfig& j) {
  const std::string type = j.get_string("model_type", "bert");
  if (type != "bert") throw FileError(j.origin(), str("model_type is '", type, "', expected 'bert'"));
  return read_fields<BertConfig>(j);
}

BertConfig BertConfig::from_json(const std::string& path) { return from_hf(HfConfig::load(path)); }

nlohmann::json BertConfig::to_json() const { return write_fields(*this, "bert", "BertModel"); }

BertConfig BertConfig::tiny() {
  BertConfig c;
  c.vocab_size = 100;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 64;
  c.max_position_embeddings = 64;
  return c;
}

EncoderDims dims_of(const DistilBertConfig& c) {
  EncoderDims d;
  d.layout = EncoderLayout::kDistilBert;
  d.vocab_size = c.vocab_size;
  d.hidden_size = c.dim;
  d.num_layers = c.n_layers;
  d.num_heads = c.n_heads;
  d.intermediate_size = c.hidden_dim;
  d.max_position_embeddings = c.max_position_embeddings;
  d.pad_token_id = c.pad_token_id;
  d.act = c.activation;
  d.dropout = c.dropout;
  d.attention_dropout = c.attention_dropout;
  d.layer_norm_eps = 1e-12;  // fixed in modeling_distilbert.py
  d.initializer_range = c.initializer_range;
  d.sinusoidal = c.sinusoidal_pos_embds;
  return d;
}

EncoderDims dims_of(const BertConfig& c) {
  EncoderDims d;
  d.layout = EncoderLayout::kBert;
  d.vocab_size = c.vocab_size;
  d.hidden_size = c.hidden_size;
  d.num_layers = c.num_hidden_layers;
  d.num_heads = c.num_attention_heads;
  d.intermediate_size = c.intermediate_size;
  d.max_position_embeddings = c.max_position_embeddings;
  d.type_vocab_size = c.type_vocab_size;
  d.pad_token_id = c.pad_token_id;
  d.act = c.hidden_act;
  d.dropout = c.hidden_dropout_prob;
  d.attention_dropout = c.attention_probs_dropout_prob;
  d.layer_norm_eps = c.layer_norm_eps;
  d.initializer_range = c.initializer_range;
  d.pooler = c.add_pooling_layer;
  return d;
}

at::Tensor AttentionBlock::forward(const at::Tensor& x, const at::Tensor& kv, const at::Tensor& mask,
                                   const EncoderDims& d, bool training) {
  const at::Tensor context =
      multi_head_attention(query, key, value, x, kv, mask, d.num_heads, d.attention_dropout, training);  // (B, T, D)
  return norm(x + torch::dropout(out(context), d.dropout, training));
}

AttentionBlock make_attention(torch::nn::Module& layer, const EncoderDims& d, const std::string& group,
                              const std::string& distil_norm, int64_t kv_width) {
  const int64_t D = d.hidden_size;
  const auto ln = torch::nn::LayerNorm(torch::nn::LayerNormOptions({D}).eps(d.layer_norm_eps));
  AttentionBlock b;
  auto g = add_group(layer, group);
  if (d.layout == EncoderLayout::kBert) {
    auto self = add_group(*g, "self");
    b.query = self->register_module("query", Linear(D, D));
    b.key = self->register_module("key", Linear(kv_width, D));
    b.value = self->register_module("value", Linear(kv_width, D));
    auto output = add_group(*g, "output");
    b.out = output->register_module("dense", Linear(D, D));
    b.norm = output->register_module("LayerNorm", ln);
  } else {
    b.query = g->register_module("q_lin", Linear(D, D));
    b.key = g->register_module("k_lin", Linear(kv_width, D));
    b.value = g->register_module("v_lin", Linear(kv_width, D));
    b.out = g->register_module("out_lin", Linear(D, D));
    b.norm = layer.register_module(distil_norm, ln);
  }
  return b;
}

at::Tensor FeedForwardBlock::forward(const at::Tensor& x, const EncoderDims& d, bool training) {
  const at::Tensor h = down(activation(d.act, up(x)));  // (B, T, D)
  return norm(x + torch::dropout(h, d.dropout, training));
}

FeedForwardBlock make_feed_forward(torch::nn::Module& layer, const EncoderDims& d, const std::string& suffix) {
  const int64_t D = d.hidden_size, I = d.intermediate_size;
  const auto ln = torch::nn::LayerNorm(torch::nn::LayerNormOptions({D}).eps(d.layer_norm_eps));
  FeedForwardBlock b;
  if (d.layout == EncoderLayout::kBert) {
    b.up = add_group(layer, "intermediate" + suffix)->register_module("dense", Linear(D, I));
    auto output = add_group(layer, "output" + suffix);
    b.down = output->register_module("dense", Linear(I, D));
    b.norm = output->register_module("LayerNorm", ln);
  } else {
    auto ffn = add_group(layer, "ffn" + suffix);
    b.up = ffn->register_module("lin1", Linear(D, I));
    b.down = ffn->register_module("lin2", Linear(I, D));
    b.norm = layer.register_module("output_layer_norm" + suffix, ln);
  }
  return b;
}

EncoderLayerImpl::EncoderLayerImpl(const EncoderDims& d) : d_(d) {
  attention = make_attention(*this, d, "attention", "sa_layer_norm", d.hidden_size);
  ffn = make_feed_forward(*this, d, "");
}

at::Tensor EncoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  return ffn.forward(attention.forward(x, x, mask, d_, is_training()), d_, is_training());
}

TextEncoderImpl::TextEncoderImpl(const DistilBertConfig& cfg) : d_(dims_of(cfg)) {
  cfg.validate();
  build();
}

TextEncoderImpl::TextEncoderImpl(const BertConfig& cfg) : d_(dims_of(cfg)) {
  cfg.validate();
  build();
}

TextEncoderImpl::TextEncoderImpl(const EncoderDims& d) : d_(d) { build(); }

void TextEncoderImpl::build() {
  const int64_t D = d_.hidden_size;
  auto embeddings = add_group(*this, "embeddings");
  word_ = embeddings->register_module(
      "word_embeddings", torch::nn::Embedding(torch::nn::EmbeddingOptions(d_.vocab_size, D).padding_idx(d_.pad_token_id)));
  position_ = embeddings->register_module("position_embeddings", torch::nn::Embedding(d_.max_position_embeddings, D));
  if (d_.layout == EncoderLayout::kBert)
    token_type_ = embeddings->register_module("token_type_embeddings", torch::nn::Embedding(d_.type_vocab_size, D));
  embed_norm_ = embeddings->register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D}).eps(d_.layer_norm_eps)));
  auto stack = add_group(*this, d_.layout == EncoderLayout::kBert ? "encoder" : "transformer");
  auto list = stack->register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < d_.num_layers; ++i) {
    layers_.push_back(EncoderLayer(d_));
    list->push_back(layers_.back());
  }
  if (d_.pooler) pooler_ = add_group(*this, "pooler")->register_module("dense", Linear(D, D));

  init_module_weights(*this, d_.initializer_range, /*truncated=*/false);
  if (d_.sinusoidal) {
    torch::NoGradGuard no_grad;
    position_->weight.copy_(sinusoidal_table(d_.max_position_embeddings, D));
    position_->weight.set_requires_grad(false);
  }
}

at::Tensor TextEncoderImpl::embed_norm(const at::Tensor& x) {
  return torch::dropout(embed_norm_(x), d_.dropout, is_training());
}

at::Tensor TextEncoderImpl::embed(const at::Tensor& input_ids, const at::Tensor& token_type_ids) {
  check_rank(input_ids, 2, "input_ids", "(B, T)");
  const int64_t T = input_ids.size(1);
  TORCH_CHECK(T <= d_.max_position_embeddings, "sequence of ", T, " tokens is longer than max_position_embeddings ",
              d_.max_position_embeddings, "; truncate the text");
  const at::Tensor positions = torch::arange(T, input_ids.options().dtype(torch::kLong));  // (T)
  at::Tensor x = word_(input_ids) + position_(positions).unsqueeze(0);                      // (B, T, D)
  if (!token_type_.is_empty())
    x = x + (token_type_ids.defined() ? token_type_(token_type_ids) : token_type_->weight[0].view({1, 1, -1}));
  return embed_norm(x);
}

at::Tensor TextEncoderImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                    const at::Tensor& token_type_ids) {
  at::Tensor x = embed(input_ids, token_type_ids);  // (B, T, D)
  at::Tensor mask;
  if (attention_mask.defined()) {
    TORCH_CHECK(attention_mask.sizes() == input_ids.sizes(), "attention_mask ", attention_mask.sizes(),
                " does not match input_ids ", input_ids.sizes());
    mask = additive_padding_mask(attention_mask, x.scalar_type());  // (B, 1, 1, T)
  }
  for (auto& layer : layers_) x = layer->forward(x, mask);
  return x;  // (B, T, D)
}

at::Tensor TextEncoderImpl::pool(const at::Tensor& last_hidden_state) {
  TORCH_CHECK(!pooler_.is_empty(), "this encoder has no pooler");
  return torch::tanh(pooler_(last_hidden_state.select(1, 0)));  // (B, D)
}

NameTable distilbert_name_table() {
  NameTable t;
  t.model = "DistilBERT";
  t.prefix = "distilbert.";
  t.skip = {{"vocab_transform.*", "masked-LM head, not used"},
            {"vocab_layer_norm.*", "masked-LM head, not used"},
            {"vocab_projector.*", "masked-LM head, not used"},
            {"pre_classifier.*", "classification head, not used"},
            {"classifier.*", "classification head, not used"},
            {"qa_outputs.*", "question-answering head, not used"},
            {"embeddings.position_ids", "buffer written by old transformers; positions are computed"}};
  return t;
}

NameTable bert_name_table(const BertConfig& cfg) {
  NameTable t;
  t.model = "BERT";
  t.prefix = "bert.";
  t.renames = {{R"(LayerNorm\.gamma$)", "LayerNorm.weight"}, {R"(LayerNorm\.beta$)", "LayerNorm.bias"}};
  t.skip = {{"cls.*", "pretraining heads (masked LM, next sentence), not used"},
            {"classifier.*", "classification head, not used"},
            {"qa_outputs.*", "question-answering head, not used"},
            {"embeddings.position_ids", "buffer written by old transformers; positions are computed"}};
  if (!cfg.add_pooling_layer) t.skip.push_back({"pooler.*", "pooler, not built"});
  return t;
}

NameTable text_encoder_name_table(const EncoderDims& d) {
  if (d.layout == EncoderLayout::kDistilBert) return distilbert_name_table();
  BertConfig c;
  c.add_pooling_layer = d.pooler;
  return bert_name_table(c);
}

LoadedTextEncoder load_text_encoder(const std::string& folder) {
  const HfConfig json = HfConfig::load(folder);
  const std::string type = json.require_string("model_type");
  const io::TensorStore store = io::TensorStore::open(folder);
  if (type == "distilbert") {
    const auto cfg = DistilBertConfig::from_hf(json);
    TextEncoder model(cfg);
    load_weights(*model, store, distilbert_name_table());
    model->eval();
    return {dims_of(cfg), type, model};
  }
  if (type == "bert") {
    auto cfg = BertConfig::from_hf(json);
    cfg.add_pooling_layer = store.contains("pooler.dense.weight") || store.contains("bert.pooler.dense.weight");
    TextEncoder model(cfg);
    load_weights(*model, store, bert_name_table(cfg));
    model->eval();
    return {dims_of(cfg), type, model};
  }
  throw FileError(json.origin(), str("model_type '", type, "' is not a text encoder"), "expected distilbert or bert");
}

}  // namespace vlm::models
