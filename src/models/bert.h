// Bidirectional text encoders in two Hugging Face layouts, one implementation: DistilBERT
// (modeling_distilbert.py: embeddings.*, transformer.layer.N.attention.q_lin..., sa_layer_norm, ffn.lin1/2,
// output_layer_norm) and BERT (modeling_bert.py: embeddings.* with token types, encoder.layer.N.attention.self.*,
// attention.output.*, intermediate.dense, output.*, pooler). Both are post-norm with the same math, so
// a layout flag only chooses the names. The blocks are reused by the Q-Former (qformer.h).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/torch.h>

#include <string>

#include "models/linear.h"
#include "models/weights.h"

namespace vlm::models {

class HfConfig;

// transformers' DistilBertConfig (model_type "distilbert"); defaults as transformers'.
struct DistilBertConfig {
  int64_t vocab_size = 30522;            // e.g. 30522 (bert-base-uncased WordPiece)
  int64_t max_position_embeddings = 512; // e.g. 512
  bool sinusoidal_pos_embds = false;     // e.g. false: learned positions
  int64_t n_layers = 6;                  // e.g. 6
  int64_t n_heads = 12;                  // e.g. 12; must divide dim
  int64_t dim = 768;                     // e.g. 768
  int64_t hidden_dim = 3072;             // e.g. 3072: FFN width
  double dropout = 0.1;                  // e.g. 0.1
  double attention_dropout = 0.1;        // e.g. 0.1
  std::string activation = "gelu";       // e.g. "gelu"
  double initializer_range = 0.02;       // e.g. 0.02
  int64_t pad_token_id = 0;              // e.g. 0: its embedding row gets no gradient

  // The config.json keys, listed once: from_hf and to_json visit this list (config_fields.h).
  template <class Self, class F>
  static void fields(Self& c, F&& f) {
    f("vocab_size", c.vocab_size);
    f("max_position_embeddings", c.max_position_embeddings);
    f("sinusoidal_pos_embds", c.sinusoidal_pos_embds);
    f("n_layers", c.n_layers);
    f("n_heads", c.n_heads);
    f("dim", c.dim);
    f("hidden_dim", c.hidden_dim);
    f("dropout", c.dropout);
    f("attention_dropout", c.attention_dropout);
    f("activation", c.activation);
    f("initializer_range", c.initializer_range);
    f("pad_token_id", c.pad_token_id);
  }

  void validate() const;
  static DistilBertConfig from_hf(const HfConfig& json);
  static DistilBertConfig from_json(const std::string& path);
  nlohmann::json to_json() const;
  static DistilBertConfig tiny();        // tests/demo: dim 32, 2 layers, 4 heads, vocab 100, 64 positions
};

// transformers' BertConfig (model_type "bert"); defaults as transformers'.
struct BertConfig {
  int64_t vocab_size = 30522;                 // e.g. 30522
  int64_t hidden_size = 768;                  // e.g. 768
  int64_t num_hidden_layers = 12;             // e.g. 12
  int64_t num_attention_heads = 12;           // e.g. 12; must divide hidden_size
  int64_t intermediate_size = 3072;           // e.g. 3072
  std::string hidden_act = "gelu";            // e.g. "gelu"
  double hidden_dropout_prob = 0.1;           // e.g. 0.1
  double attention_probs_dropout_prob = 0.1;  // e.g. 0.1
  int64_t max_position_embeddings = 512;      // e.g. 512
  int64_t type_vocab_size = 2;                // e.g. 2: sentence A/B
  double initializer_range = 0.02;            // e.g. 0.02
  double layer_norm_eps = 1e-12;              // e.g. 1e-12
  int64_t pad_token_id = 0;                   // e.g. 0
  std::string position_embedding_type = "absolute";  // e.g. "absolute" (the only one supported)
  bool add_pooling_layer = true;              // ours, not config.json: e.g. true (BertModel), false (Q-Former)

  // The config.json keys, listed once: from_hf and to_json visit this list (config_fields.h).
  template <class Self, class F>
  static void fields(Self& c, F&& f) {
    f("vocab_size", c.vocab_size);
    f("hidden_size", c.hidden_size);
    f("num_hidden_layers", c.num_hidden_layers);
    f("num_attention_heads", c.num_attention_heads);
    f("intermediate_size", c.intermediate_size);
    f("hidden_act", c.hidden_act);
    f("hidden_dropout_prob", c.hidden_dropout_prob);
    f("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
    f("max_position_embeddings", c.max_position_embeddings);
    f("type_vocab_size", c.type_vocab_size);
    f("initializer_range", c.initializer_range);
    f("layer_norm_eps", c.layer_norm_eps);
    f("pad_token_id", c.pad_token_id);
    f("position_embedding_type", c.position_embedding_type);
  }

  void validate() const;
  static BertConfig from_hf(const HfConfig& json);
  static BertConfig from_json(const std::string& path);
  nlohmann::json to_json() const;
  static BertConfig tiny();                   // tests/demo: hidden 32, 2 layers, 4 heads, vocab 100, 64 positions
};

enum class EncoderLayout { kDistilBert, kBert };

// The sizes both layouts share, normalised from either config.
struct EncoderDims {
  EncoderLayout layout = EncoderLayout::kDistilBert;
  int64_t vocab_size = 0, hidden_size = 0, num_layers = 0, num_heads = 0, intermediate_size = 0;
  int64_t max_position_embeddings = 0, type_vocab_size = 0, pad_token_id = 0;
  std::string act;
  double dropout = 0, attention_dropout = 0, layer_norm_eps = 1e-12, initializer_range = 0.02;
  bool sinusoidal = false, pooler = false;
};
EncoderDims dims_of(const DistilBertConfig& cfg);
EncoderDims dims_of(const BertConfig& cfg);

// A post-norm attention block: norm(x + dropout(out(attention(query(x), key(kv), value(kv))))).
struct AttentionBlock {
  Linear query{nullptr}, key{nullptr}, value{nullptr}, out{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  at::Tensor forward(const at::Tensor& x, const at::Tensor& kv, const at::Tensor& mask, const EncoderDims& d,
                     bool training);
};
// Registers an attention block on `layer` under the layout's names: BERT `<group>.self.{query,key,value}`,
// `<group>.output.{dense,LayerNorm}`; DistilBERT `<group>.{q_lin,k_lin,v_lin,out_lin}` and `<distil_norm>`.
// Keys and values come from `kv_width` features (the vision width for cross-attention).
AttentionBlock make_attention(torch::nn::Module& layer, const EncoderDims& d, const std::string& group,
                              const std::string& distil_norm, int64_t kv_width);

// A post-norm feed-forward block: norm(x + dropout(down(act(up(x))))).
struct FeedForwardBlock {
  Linear up{nullptr}, down{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  at::Tensor forward(const at::Tensor& x, const EncoderDims& d, bool training);
};
// BERT `intermediate<suffix>.dense`, `output<suffix>.{dense,LayerNorm}`; DistilBERT `ffn<suffix>.{lin1,lin2}`,
// `output_layer_norm<suffix>`. The Q-Former's query FFN uses suffix "_query".
FeedForwardBlock make_feed_forward(torch::nn::Module& layer, const EncoderDims& d, const std::string& suffix);

class EncoderLayerImpl : public torch::nn::Module {
 public:
  explicit EncoderLayerImpl(const EncoderDims& d);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask);  // (B, T, D), additive mask -> (B, T, D)
  AttentionBlock attention;
  FeedForwardBlock ffn;

 private:
  EncoderDims d_;
};
TORCH_MODULE(EncoderLayer);

// DistilBertModel or BertModel, by the config it is built from. Random init as transformers' _init_weights.
class TextEncoderImpl : public torch::nn::Module {
 public:
  explicit TextEncoderImpl(const DistilBertConfig& cfg);
  explicit TextEncoderImpl(const BertConfig& cfg);

  // input_ids (B, T), attention_mask (B, T) 1 = token, 0 = padding (undefined = all tokens);
  // token_type_ids (B, T) for BERT (undefined = zeros) -> last_hidden_state (B, T, D).
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask = {},
                     const at::Tensor& token_type_ids = {});
  // BERT's pooler: tanh(dense(last_hidden_state[:, 0])) (B, D).
  at::Tensor pool(const at::Tensor& last_hidden_state);

  // Pieces for the Q-Former: word + position (+ type 0) embeddings, normalised: (B, T) -> (B, T, D);
  // the embedding LayerNorm + dropout alone (for the query tokens); layer i.
  at::Tensor embed(const at::Tensor& input_ids, const at::Tensor& token_type_ids = {});
  at::Tensor embed_norm(const at::Tensor& x);
  EncoderLayer layer(int64_t i) const { return layers_[i]; }
  const EncoderDims& dims() const { return d_; }

 protected:
  // For a model that is this encoder plus more (the Q-Former): `d` already validated.
  explicit TextEncoderImpl(const EncoderDims& d);

 private:
  void build();
  EncoderDims d_;
  torch::nn::Embedding word_{nullptr}, position_{nullptr}, token_type_{nullptr};
  torch::nn::LayerNorm embed_norm_{nullptr};
  std::vector<EncoderLayer> layers_;
  Linear pooler_{nullptr};
};
TORCH_MODULE(TextEncoder);

// Checkpoint names: `distilbert.` prefix, masked-LM and task heads skipped knowingly.
NameTable distilbert_name_table();
// `bert.` prefix, LayerNorm.gamma/beta renamed (checkpoints from before 2019, bert-base-uncased among
// them), cls.* pretraining heads and task heads skipped knowingly; pooler.* skipped when not built.
NameTable bert_name_table(const BertConfig& cfg);
NameTable text_encoder_name_table(const EncoderDims& d);

struct LoadedTextEncoder {
  EncoderDims dims;
  std::string model_type;  // "distilbert" or "bert"
  TextEncoder model;
};
// One call from an HF folder: config.json's model_type picks DistilBERT or BERT; eval mode. For BERT
// the pooler is built when the weights have one.
LoadedTextEncoder load_text_encoder(const std::string& folder);

}  // namespace vlm::models
