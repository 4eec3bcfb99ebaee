// ViTModel after transformers' modeling_vit.py (see vit.h).
// Shape letters: B batch, C channels, P patches, N = 1 + P tokens, D width, I intermediate width.
#include "models/vit.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/tensor_store.h"
#include "models/config_fields.h"
#include "models/encoder_ops.h"
#include "models/hf_config.h"

namespace vlm::models {

void ViTConfig::validate() const {
  auto positive = [](int64_t v, const char* key) {
    if (v <= 0) throw ConfigError(str("vit.", key), str("must be positive, got ", v));
  };
  positive(hidden_size, "hidden_size");
  positive(num_hidden_layers, "num_hidden_layers");
  positive(num_attention_heads, "num_attention_heads");
  positive(intermediate_size, "intermediate_size");
  positive(patch_size, "patch_size");
  positive(num_channels, "num_channels");
  if (hidden_size % num_attention_heads != 0)
    throw ConfigError("vit.num_attention_heads", str(num_attention_heads, " heads do not divide hidden_size ", hidden_size),
                      "pick a head count that divides hidden_size");
  if (image_size < patch_size)
    throw ConfigError("vit.image_size", str("image_size ", image_size, " is smaller than patch_size ", patch_size));
  if (!is_known_activation(hidden_act))
    throw ConfigError("vit.hidden_act", str("unknown activation '", hidden_act, "'"), "use gelu or gelu_new");
  if (pooler_act != "tanh") throw ConfigError("vit.pooler_act", str("only tanh is supported, got '", pooler_act, "'"));
  if (pooler_output_size && *pooler_output_size != hidden_size)
    throw ConfigError("vit.pooler_output_size", "a pooler width other than hidden_size is not supported");
  if (layer_norm_eps <= 0) throw ConfigError("vit.layer_norm_eps", "must be positive");
  for (const int64_t c : stem_channels) positive(c, "stem_channels[]");
  if (!stem_channels.empty() && (stem_channels.size() > 6 || patch_size % (int64_t{1} << stem_channels.size()) != 0))
    throw ConfigError("vit.stem_channels",
                      str(stem_channels.size(), " stride-2 stem convs do not divide patch_size ", patch_size),
                      "use at most log2(patch_size) stem convs");
  if (hidden_dropout_prob < 0 || hidden_dropout_prob >= 1 || attention_probs_dropout_prob < 0 ||
      attention_probs_dropout_prob >= 1)
    throw ConfigError("vit.hidden_dropout_prob", "dropout probabilities must be in [0, 1)");
}

ViTConfig ViTConfig::from_hf(const HfConfig& j) {
  const std::string type = j.get_string("model_type", "vit");
  if (type != "vit")
    throw FileError(j.origin(), str("model_type is '", type, "', expected 'vit'"), "point at a ViT model folder");
  return read_fields<ViTConfig>(j);
}

ViTConfig ViTConfig::from_json(const std::string& path) { return from_hf(HfConfig::load(path)); }

nlohmann::json ViTConfig::to_json() const { return write_fields(*this, "vit", "ViTModel"); }

ViTConfig ViTConfig::tiny() {
  ViTConfig c;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 64;
  c.image_size = 32;
  c.patch_size = 8;
  return c;
}

ViTLayerImpl::ViTLayerImpl(const ViTConfig& cfg) : cfg_(cfg) {
  const int64_t D = cfg.hidden_size, I = cfg.intermediate_size;
  auto ln = [&](int64_t d) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(cfg.layer_norm_eps)); };
  auto attention = add_group(*this, "attention");
  auto self = add_group(*attention, "attention");
  query_ = self->register_module("query", Linear(torch::nn::LinearOptions(D, D).bias(cfg.qkv_bias)));
  key_ = self->register_module("key", Linear(torch::nn::LinearOptions(D, D).bias(cfg.qkv_bias)));
  value_ = self->register_module("value", Linear(torch::nn::LinearOptions(D, D).bias(cfg.qkv_bias)));
  attn_out_ = add_group(*attention, "output")->register_module("dense", Linear(D, D));
  intermediate_ = add_group(*this, "intermediate")->register_module("dense", Linear(D, I));
  output_ = add_group(*this, "output")->register_module("dense", Linear(I, D));
  layernorm_before_ = register_module("layernorm_before", ln(D));
  layernorm_after_ = register_module("layernorm_after", ln(D));
}

at::Tensor ViTLayerImpl::forward(const at::Tensor& x) {
  const at::Tensor h = layernorm_before_(x);
  const at::Tensor context = multi_head_attention(query_, key_, value_, h, h, at::Tensor(), cfg_.num_attention_heads,
                                                  cfg_.attention_probs_dropout_prob, is_training());  // (B, N, D)
  const at::Tensor y = x + torch::dropout(attn_out_(context), cfg_.hidden_dropout_prob, is_training());
  const at::Tensor ff = output_(activation(cfg_.hidden_act, intermediate_(layernorm_after_(y))));  // (B, N, D)
  return y + torch::dropout(ff, cfg_.hidden_dropout_prob, is_training());
}

ViTModelImpl::ViTModelImpl(const ViTConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  const int64_t D = cfg.hidden_size;
  auto embeddings = add_group(*this, "embeddings");
  cls_token_ = embeddings->register_parameter("cls_token", torch::zeros({1, 1, D}));
  position_embeddings_ =
      embeddings->register_parameter("position_embeddings", torch::zeros({1, cfg.num_patches() + 1, D}));
  auto patch_embeddings = add_group(*embeddings, "patch_embeddings");
  int64_t channels = cfg.num_channels, kernel = cfg.patch_size;
  if (!cfg.stem_channels.empty()) {
    stem_ = patch_embeddings->register_module("stem", torch::nn::Sequential());
    for (const int64_t c : cfg.stem_channels) {
      stem_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, c, 3).stride(2).padding(1)));
      stem_->push_back(torch::nn::ReLU());
      channels = c;
      kernel /= 2;
    }
  }
  projection_ = patch_embeddings->register_module(
      "projection", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, D, kernel).stride(kernel)));
  auto encoder = add_group(*this, "encoder");
  layers_ = encoder->register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) layers_->push_back(ViTLayer(cfg));
  layernorm_ = register_module("layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D}).eps(cfg.layer_norm_eps)));
  if (cfg.add_pooling_layer) pooler_ = add_group(*this, "pooler")->register_module("dense", Linear(D, D));

  init_module_weights(*this, cfg.initializer_range, /*truncated=*/true);
  trunc_normal_(position_embeddings_, cfg.initializer_range);
  trunc_normal_(cls_token_, cfg.initializer_range);
  // The stem keeps PyTorch's fan-in scaled init: the transformer's initializer_range (0.2 in
  // the demo) would grow activations ~2.4x per ReLU conv.
  if (stem_) {
    for (auto& m : stem_->modules(/*include_self=*/false)) {
      if (auto* conv = m->as<torch::nn::Conv2d>()) conv->reset_parameters();
    }
  }
}

at::Tensor ViTModelImpl::interpolate_pos_encoding(int64_t height, int64_t width) {
  const int64_t grid = cfg_.image_size / cfg_.patch_size;
  const int64_t new_h = height / cfg_.patch_size, new_w = width / cfg_.patch_size;
  if (new_h == grid && new_w == grid) return position_embeddings_;
  const int64_t D = cfg_.hidden_size;
  const at::Tensor cls_pos = position_embeddings_.slice(1, 0, 1);  // (1, 1, D)
  at::Tensor patch_pos = position_embeddings_.slice(1, 1)
                             .reshape({1, grid, grid, D})
                             .permute({0, 3, 1, 2})
                             .to(at::kFloat);  // (1, D, grid, grid)
  if (position_embeddings_.scalar_type() == at::kDouble) patch_pos = patch_pos.to(at::kDouble);
  patch_pos = torch::nn::functional::interpolate(
      patch_pos, torch::nn::functional::InterpolateFuncOptions()
                     .size(std::vector<int64_t>{new_h, new_w})
                     .mode(torch::kBicubic)
                     .align_corners(false));  // (1, D, new_h, new_w)
  patch_pos = patch_pos.to(position_embeddings_.scalar_type()).permute({0, 2, 3, 1}).reshape({1, new_h * new_w, D});  // (1, P', D)
  return torch::cat({cls_pos, patch_pos}, 1);  // (1, 1 + P', D)
}

at::Tensor ViTModelImpl::forward(const at::Tensor& pixel_values, bool interpolate) {
  check_rank(pixel_values, 4, "pixel_values", "(B, C, H, W)");
  TORCH_CHECK(pixel_values.size(1) == cfg_.num_channels, "pixel_values has ", pixel_values.size(1),
              " channels, the model expects ", cfg_.num_channels);
  const int64_t H = pixel_values.size(2), W = pixel_values.size(3);
  TORCH_CHECK(interpolate || (H == cfg_.image_size && W == cfg_.image_size), "input image size (", H, "x", W,
              ") doesn't match model (", cfg_.image_size, "x", cfg_.image_size, "); pass interpolate_pos_encoding");
  const int64_t B = pixel_values.size(0);
  at::Tensor pixels = pixel_values.to(projection_->weight.scalar_type());
  if (stem_) pixels = stem_->forward(pixels);                                          // (B, C', H / 2^k, W / 2^k)
  const at::Tensor patches = projection_(pixels).flatten(2).transpose(1, 2);           // (B, P, D)
  at::Tensor x = torch::cat({cls_token_.expand({B, 1, cfg_.hidden_size}), patches}, 1);  // (B, N, D)
  x = torch::dropout(x + interpolate_pos_encoding(H, W), cfg_.hidden_dropout_prob, is_training());
  for (const auto& layer : *layers_) x = layer->as<ViTLayer>()->forward(x);
  return layernorm_(x);  // (B, N, D)
}

at::Tensor ViTModelImpl::pool(const at::Tensor& last_hidden_state) {
  TORCH_CHECK(!pooler_.is_empty(), "this ViT has no pooler (add_pooling_layer is false)");
  return torch::tanh(pooler_(last_hidden_state.select(1, 0)));  // (B, D)
}

NameTable vit_name_table(const ViTConfig& cfg) {
  NameTable t;
  t.model = "ViT";
  t.prefix = "vit.";
  t.skip = {{"classifier.*", "image-classification head, not used"},
            {"embeddings.mask_token", "masked-image-modeling token, not used"},
            {"decoder.*", "masked-image-modeling decoder, not used"}};
  if (!cfg.add_pooling_layer) t.skip.push_back({"pooler.*", "pooler, not built (add_pooling_layer is false)"});
  return t;
}

LoadedViT load_vit(const std::string& folder) {
  ViTConfig cfg = ViTConfig::from_json(folder);
  const io::TensorStore store = io::TensorStore::open(folder);
  cfg.add_pooling_layer = store.contains("pooler.dense.weight") || store.contains("vit.pooler.dense.weight");
  ViTModel model(cfg);
  load_weights(*model, store, vit_name_table(cfg));
  model->eval();
  return {cfg, model};
}

at::Tensor vision_features(ViTModelImpl& vit, const at::Tensor& pixel_values) {
  if (vit.parameters().front().requires_grad()) return vit.forward(pixel_values);
  torch::NoGradGuard no_grad;
  vit.eval();
  return vit.forward(pixel_values);
}

}  // namespace vlm::models
