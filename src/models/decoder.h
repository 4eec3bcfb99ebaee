// The causal decoder LM in transformers' LlamaForCausalLM layout (modeling_llama.py: RMSNorm,
// rotary embeddings with default / linear / llama3 scaling, grouped-query attention, SwiGLU MLP,
// optional tied LM head) and, by config flags, Qwen3ForCausalLM (modeling_qwen3.py: per-head
// q_norm / k_norm RMSNorm before RoPE, head_dim from the config). Module names are the checkpoint's
// (model.layers.N.self_attn.q_proj, ...), so SmolLM and Qwen3 folders load by lookup; projections are
// LoraLinear so LoRA adapters attach without renaming anything.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "models/linear.h"
#include "models/lora.h"
#include "models/weights.h"

namespace vlm::models {

class HfConfig;

// config.json's rope_scaling (null = default RoPE).
struct RopeScaling {
  std::string rope_type = "default";              // e.g. "default", "linear", "llama3"
  double factor = 1.0;                            // e.g. 8.0 (llama3), 2.0 (linear)
  double low_freq_factor = 1.0;                   // e.g. 1.0 (llama3 only)
  double high_freq_factor = 4.0;                  // e.g. 4.0 (llama3 only)
  int64_t original_max_position_embeddings = 8192;  // e.g. 8192 (llama3 only)
};

// transformers' LlamaConfig / Qwen3Config, HF field names; defaults as transformers' for the model_type.
struct DecoderConfig {
  std::string model_type = "llama";       // e.g. "llama" (SmolLM), "qwen3"
  int64_t vocab_size = 32000;             // e.g. 49152 (SmolLM), 151936 (Qwen3)
  int64_t hidden_size = 4096;             // e.g. 576 (SmolLM-135M), 1024 (Qwen3-0.6B)
  int64_t intermediate_size = 11008;      // e.g. 1536 (SmolLM-135M), 3072 (Qwen3-0.6B)
  int64_t num_hidden_layers = 32;         // e.g. 30 (SmolLM-135M), 28 (Qwen3-0.6B)
  int64_t num_attention_heads = 32;       // e.g. 9 (SmolLM-135M), 16 (Qwen3-0.6B)
  int64_t num_key_value_heads = 32;       // e.g. 3 (SmolLM-135M), 8 (Qwen3-0.6B); divides num_attention_heads
  int64_t head_dim = 128;                 // e.g. 64; HF null = hidden_size / num_attention_heads
  double rms_norm_eps = 1e-6;             // e.g. 1e-5 (SmolLM), 1e-6 (Qwen3)
  double rope_theta = 10000.0;            // e.g. 10000 (SmolLM-135M), 1000000 (Qwen3)
  RopeScaling rope_scaling;               // e.g. null
  int64_t max_position_embeddings = 2048; // e.g. 2048 (SmolLM), 40960 (Qwen3-0.6B)
  bool tie_word_embeddings = false;       // e.g. true (SmolLM, Qwen3-0.6B): lm_head shares embed_tokens
  bool attention_bias = false;            // e.g. false: q/k/v/o projections without bias
  bool mlp_bias = false;                  // e.g. false (llama only): gate/up/down without bias
  std::string hidden_act = "silu";        // e.g. "silu" (the only one supported)
  double initializer_range = 0.02;        // e.g. 0.02: std of the normal init
  double attention_dropout = 0.0;         // e.g. 0.0
  std::string torch_dtype = "float32";    // e.g. "bfloat16": the dtype of the stored weights
  std::vector<int64_t> eos_token_id;      // e.g. [2] or [151645, 151643]; may be empty
  std::optional<int64_t> bos_token_id;    // e.g. 1
  std::optional<int64_t> pad_token_id;    // e.g. null

  // The plain config.json keys, listed once: from_hf and to_json visit this list (config_fields.h).
  // Coded beside it, once each: model_type (chooses the defaults), rope_scaling / rope_parameters,
  // eos_token_id (an integer or a list), the "dtype" alias and the derived defaults of
  // num_key_value_heads and head_dim.
  template <class Self, class F>
  static void fields(Self& c, F&& f) {
    f("vocab_size", c.vocab_size);
    f("hidden_size", c.hidden_size);
    f("intermediate_size", c.intermediate_size);
    f("num_hidden_layers", c.num_hidden_layers);
    f("num_attention_heads", c.num_attention_heads);
    f("num_key_value_heads", c.num_key_value_heads);
    f("head_dim", c.head_dim);
    f("rms_norm_eps", c.rms_norm_eps);
    f("rope_theta", c.rope_theta);
    f("max_position_embeddings", c.max_position_embeddings);
    f("tie_word_embeddings", c.tie_word_embeddings);
    f("attention_bias", c.attention_bias);
    f("mlp_bias", c.mlp_bias);
    f("hidden_act", c.hidden_act);
    f("initializer_range", c.initializer_range);
    f("attention_dropout", c.attention_dropout);
    f("torch_dtype", c.torch_dtype);
    f("bos_token_id", c.bos_token_id);
    f("pad_token_id", c.pad_token_id);
  }

  bool qwen3() const { return model_type == "qwen3"; }
  void validate() const;                  // throws ConfigError naming the field and the fix
  static DecoderConfig defaults_for(const std::string& model_type);  // transformers' defaults
  static DecoderConfig from_hf(const HfConfig& json);
  static DecoderConfig from_json(const std::string& path);  // config.json or its folder
  nlohmann::json to_json() const;         // config.json contents with architectures
  // Presets, each the config.json it stands for read through from_hf.
  // Test/demo presets: hidden 32, 2 layers, 4 heads, 2 kv heads, vocab 100.
  static DecoderConfig tiny_llama();
  static DecoderConfig tiny_qwen3();
  static DecoderConfig smollm_135m();     // HuggingFaceTB/SmolLM-135M's sizes
  static DecoderConfig qwen3_0_6b();      // Qwen/Qwen3-0.6B's sizes
};

// The inverse RoPE frequencies (head_dim / 2) for the config's theta and scaling, in double, as
// transformers' modeling_rope_utils (default, linear, llama3).
at::Tensor rope_inv_freq(const DecoderConfig& cfg);
// x (B, H, T, Dh) rotated at positions (B, T): x cos + rotate_half(x) sin with cos/sin computed in fp32.
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& positions, const at::Tensor& inv_freq);
// The same in two halves, so a forward computes the tables once for every layer: rope_tables gives
// cos and sin stacked (2, B, 1, T, Dh) in fp32 (double for double), on positions' device;
// apply_rope_tables rotates x (B, H, T, Dh) with them, in x's dtype.
at::Tensor rope_tables(const at::Tensor& positions, const at::Tensor& inv_freq, bool double_precision = false);
at::Tensor apply_rope_tables(const at::Tensor& x, const at::Tensor& tables);
// weight * x / sqrt(mean(x^2) + eps), computed in fp32 (in the input dtype when it is double).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x) { return rms_norm(x, weight, eps_); }
  at::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// One layer's cached keys and values (B, Hkv, S, Dh), appended on every forward.
struct LayerCache {
  at::Tensor keys, values;
};
struct KVCache {
  std::vector<LayerCache> layers;
  int64_t length() const { return layers.empty() || !layers[0].keys.defined() ? 0 : layers[0].keys.size(2); }
};

class DecoderAttentionImpl : public torch::nn::Module {
 public:
  explicit DecoderAttentionImpl(const DecoderConfig& cfg);
  // x (B, T, D), rope: rope_tables of the positions (B, T), mask additive (B, 1, T, S) or undefined
  // with is_causal.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& rope, const at::Tensor& mask, bool is_causal,
                     LayerCache* cache);
  LoraLinear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // qwen3 only

 private:
  DecoderConfig cfg_;
};
TORCH_MODULE(DecoderAttention);

class DecoderMLPImpl : public torch::nn::Module {
 public:
  explicit DecoderMLPImpl(const DecoderConfig& cfg);
  at::Tensor forward(const at::Tensor& x) { return down_proj(torch::silu(gate_proj(x)) * up_proj(x)); }
  LoraLinear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(DecoderMLP);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const DecoderConfig& cfg);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& rope, const at::Tensor& mask, bool is_causal,
                     LayerCache* cache);
  DecoderAttention self_attn{nullptr};
  DecoderMLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

// What one forward reads. Exactly one of input_ids / inputs_embeds.
struct DecoderInput {
  at::Tensor input_ids;       // (B, T) int64
  at::Tensor inputs_embeds;   // (B, T, D), e.g. image tokens + prompt embeddings from the VLM
  // (B, S) with S = cache length + T, 1 = token, 0 = padding (left padding); undefined = all tokens.
  at::Tensor attention_mask;
  at::Tensor position_ids;    // (B, T); undefined = cumsum(mask) - 1 (transformers' generate rule)
  KVCache* cache = nullptr;   // appended with this call's keys/values when given
  int64_t logits_to_keep = 0; // 0 = logits for all T positions, k = only the last k
  bool compute_logits = true; // false: last_hidden_state only
};

struct DecoderOutput {
  at::Tensor last_hidden_state;  // (B, T, D) after the final norm
  at::Tensor logits;             // (B, T or logits_to_keep, V) in the model dtype
};

// LlamaForCausalLM / Qwen3ForCausalLM: `model.{embed_tokens,layers,norm}` and `lm_head` (absent when tied).
class DecoderLMImpl : public torch::nn::Module {
 public:
  // Random initialisation as transformers' _init_weights: N(0, initializer_range), biases 0, norms 1.
  explicit DecoderLMImpl(const DecoderConfig& cfg);

  DecoderOutput forward(const DecoderInput& in);
  at::Tensor embed(const at::Tensor& input_ids);           // (B, T) -> (B, T, D)
  at::Tensor lm_logits(const at::Tensor& hidden);          // (B, T, D) -> (B, T, V)
  at::Tensor output_embedding() const;                     // lm_head weight (or embed_tokens when tied) (V, D)
  KVCache new_cache() const;
  const DecoderConfig& config() const { return cfg_; }

  torch::nn::Embedding embed_tokens{nullptr};
  std::vector<DecoderLayer> layers;
  RMSNorm norm{nullptr};
  Linear lm_head{nullptr};  // null when tie_word_embeddings

 private:
  DecoderConfig cfg_;
  at::Tensor inv_freq_;         // (Dh / 2) double, not a parameter: rebuilt from the config
  at::Tensor inv_freq_device_;  // inv_freq_ on the device of the last forward: no host copy per call
};
TORCH_MODULE(DecoderLM);

// Checkpoint names: no prefix; a tied lm_head.weight in the file is skipped knowingly, as are the
// rotary inv_freq buffers older checkpoints stored; LoRA tensors are never part of model weights.
NameTable decoder_name_table(const DecoderConfig& cfg);

struct LoadedDecoder {
  DecoderConfig config;
  DecoderLM model;
};
// One call from an HF folder (config.json + safetensors, sharded or not) to an eval-mode model in
// `dtype` (float32 default; bfloat16 keeps bf16 weights as they are).
LoadedDecoder load_decoder(const std::string& folder, at::ScalarType dtype = at::kFloat);
// Writes config.json + model.safetensors (merging nothing: call merge_lora first to export merged).
void save_decoder(DecoderLMImpl& model, const std::string& folder);

}  // namespace vlm::models
