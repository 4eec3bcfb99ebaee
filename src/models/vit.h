// The Vision Transformer encoder in transformers' ViTModel layout (modeling_vit.py; Dosovitskiy et al.
// 2020): patch embedding by a strided conv, [CLS] + learned position embeddings (bicubic-interpolated
// for another image size), pre-norm blocks, final layernorm, optional tanh pooler. Module names are
// the checkpoint's, so google/vit-base-patch16-224 (a ViTForImageClassification) loads through
// vit_name_table() with its `vit.` prefix stripped and `classifier.*` skipped knowingly.
// One addition outside that layout, off unless asked for: a convolutional stem (`stem_channels`)
// in front of the patch projection, for ViTs trained from scratch on little data (see ViTConfig).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "models/linear.h"
#include "models/weights.h"

namespace vlm::models {

class HfConfig;

// transformers' ViTConfig: field names as in config.json, defaults as transformers' when a key is absent.
struct ViTConfig {
  int64_t hidden_size = 768;                 // e.g. 768 (base), 192 (tiny)
  int64_t num_hidden_layers = 12;            // e.g. 12
  int64_t num_attention_heads = 12;          // e.g. 12; must divide hidden_size
  int64_t intermediate_size = 3072;          // e.g. 3072 = 4 x hidden_size
  std::string hidden_act = "gelu";           // e.g. "gelu" (exact erf), "gelu_new"
  double hidden_dropout_prob = 0.0;          // e.g. 0.0
  double attention_probs_dropout_prob = 0.0; // e.g. 0.0
  double initializer_range = 0.02;           // e.g. 0.02: std of the truncated-normal init
  double layer_norm_eps = 1e-12;             // e.g. 1e-12
  int64_t image_size = 224;                  // e.g. 224: the size the position embeddings were trained at
  int64_t patch_size = 16;                   // e.g. 16
  int64_t num_channels = 3;                  // e.g. 3 (RGB)
  bool qkv_bias = true;                      // e.g. true: query/key/value have biases
  bool add_pooling_layer = false;            // ours, not config.json: e.g. false for ViTForImageClassification weights
  std::optional<int64_t> pooler_output_size; // e.g. null = hidden_size
  std::string pooler_act = "tanh";           // e.g. "tanh"
  // Ours, not transformers': a convolutional stem (Xiao et al. 2021, "Early convolutions help
  // transformers see better"). Each entry adds a 3x3 stride-2 conv + ReLU with that many output
  // channels; the patch projection then covers patch_size / 2^k stem pixels. Empty (the
  // default, and every HF checkpoint) is the plain patch embedding. A ViT trained from scratch
  // on the demo's three-object scenes to name their shapes gets the set right 0.20 of the time
  // after 600 steps without a stem; a small CNN gets 0.99.
  std::vector<int64_t> stem_channels;        // e.g. {32, 64, 128} with patch_size 8

  // The config.json keys, listed once: from_hf and to_json visit this list (config_fields.h).
  template <class Self, class F>
  static void fields(Self& c, F&& f) {
    f("hidden_size", c.hidden_size);
    f("num_hidden_layers", c.num_hidden_layers);
    f("num_attention_heads", c.num_attention_heads);
    f("intermediate_size", c.intermediate_size);
    f("hidden_act", c.hidden_act);
    f("hidden_dropout_prob", c.hidden_dropout_prob);
    f("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
    f("initializer_range", c.initializer_range);
    f("layer_norm_eps", c.layer_norm_eps);
    f("image_size", c.image_size);
    f("patch_size", c.patch_size);
    f("num_channels", c.num_channels);
    f("qkv_bias", c.qkv_bias);
    f("pooler_output_size", c.pooler_output_size);
    f("pooler_act", c.pooler_act);
    f("stem_channels", c.stem_channels);
  }

  int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  void validate() const;                     // throws ConfigError naming the field and the fix
  static ViTConfig from_hf(const HfConfig& json);
  static ViTConfig from_json(const std::string& path);  // config.json file or its folder
  nlohmann::json to_json() const;            // config.json contents (model_type "vit")
  static ViTConfig tiny();                   // a test/demo preset: D=32, 2 layers, 4 heads, 32x32 images, 8x8 patches
};

class ViTLayerImpl : public torch::nn::Module {
 public:
  explicit ViTLayerImpl(const ViTConfig& cfg);
  at::Tensor forward(const at::Tensor& x);  // (B, N, D) -> (B, N, D)

 private:
  ViTConfig cfg_;
  torch::nn::LayerNorm layernorm_before_{nullptr}, layernorm_after_{nullptr};
  Linear query_{nullptr}, key_{nullptr}, value_{nullptr}, attn_out_{nullptr};
  Linear intermediate_{nullptr}, output_{nullptr};
};
TORCH_MODULE(ViTLayer);

class ViTModelImpl : public torch::nn::Module {
 public:
  // Random initialisation as transformers' ViTPreTrainedModel._init_weights (truncated normal).
  explicit ViTModelImpl(const ViTConfig& cfg);

  // pixel_values (B, C, H, W) -> last_hidden_state (B, 1 + P, D). Another H, W than image_size
  // interpolates the position embeddings (bicubic) when `interpolate_pos_encoding`, else throws.
  at::Tensor forward(const at::Tensor& pixel_values, bool interpolate_pos_encoding = true);
  // last_hidden_state -> tanh(dense([CLS])) (B, D); needs add_pooling_layer.
  at::Tensor pool(const at::Tensor& last_hidden_state);
  // Position embeddings for an image of height x width: (1, 1 + P', D); identity at image_size.
  at::Tensor interpolate_pos_encoding(int64_t height, int64_t width);

  const ViTConfig& config() const { return cfg_; }

 private:
  ViTConfig cfg_;
  at::Tensor cls_token_, position_embeddings_;
  torch::nn::Conv2d projection_{nullptr};
  torch::nn::Sequential stem_{nullptr};  // null without stem_channels
  torch::nn::ModuleList layers_;
  torch::nn::LayerNorm layernorm_{nullptr};
  Linear pooler_{nullptr};
};
TORCH_MODULE(ViTModel);

// How ViT checkpoints name things: `vit.` prefix (ViTForImageClassification), classifier and
// masked-image-modeling tensors skipped knowingly; a pooler in the file is skipped when the
// model has none.
NameTable vit_name_table(const ViTConfig& cfg);

struct LoadedViT {
  ViTConfig config;
  ViTModel model;
};
// One call from an HF folder (config.json + safetensors) to an eval-mode model; the pooler is
// built when the weights have one.
LoadedViT load_vit(const std::string& folder);

// last_hidden_state (B, 1 + P, D) for training what sits on top of the ViT: with gradients
// when its weights are trainable, else under no-grad in eval mode (a frozen encoder).
at::Tensor vision_features(ViTModelImpl& vit, const at::Tensor& pixel_values);

}  // namespace vlm::models
