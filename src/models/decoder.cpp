// LlamaForCausalLM / Qwen3ForCausalLM after transformers' modeling_llama.py, modeling_qwen3.py and
// modeling_rope_utils.py (see decoder.h).
// Shape letters: B batch, T new tokens, S cached + new tokens, D hidden, H heads, Hkv key/value heads,
// Dh head dim, I intermediate width, V vocab.
#include "models/decoder.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <numbers>

#include "core/error.h"
#include "core/torch_compat.h"
#include "io/tensor_store.h"
#include "models/config_fields.h"
#include "models/encoder_ops.h"
#include "models/hf_config.h"

namespace vlm::models {

// ---- config ---------------------------------------------------------------------------------

DecoderConfig DecoderConfig::defaults_for(const std::string& model_type) {
  DecoderConfig c;
  c.model_type = model_type;
  if (model_type == "qwen3") {  // transformers' Qwen3Config defaults
    c.vocab_size = 151936;
    c.intermediate_size = 22016;
    c.max_position_embeddings = 32768;
  }
  return c;
}

void DecoderConfig::validate() const {
  auto positive = [&](int64_t v, const char* key) {
    if (v <= 0) throw ConfigError(str(model_type, ".", key), str("must be positive, got ", v));
  };
  if (model_type != "llama" && model_type != "qwen3")
    throw ConfigError("model_type", str("'", model_type, "' is not a supported causal LM"), "use llama or qwen3");
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(intermediate_size, "intermediate_size");
  positive(num_hidden_layers, "num_hidden_layers");
  positive(num_attention_heads, "num_attention_heads");
  positive(num_key_value_heads, "num_key_value_heads");
  positive(head_dim, "head_dim");
  if (num_attention_heads % num_key_value_heads != 0)
    throw ConfigError(str(model_type, ".num_key_value_heads"),
                      str(num_key_value_heads, " key/value heads do not divide ", num_attention_heads, " heads"),
                      "grouped-query attention needs num_attention_heads to be a multiple of num_key_value_heads");
  if (head_dim % 2 != 0) throw ConfigError(str(model_type, ".head_dim"), str("must be even for RoPE, got ", head_dim));
  if (hidden_act != "silu")
    throw ConfigError(str(model_type, ".hidden_act"), str("'", hidden_act, "' is not supported"), "use silu");
  if (rms_norm_eps <= 0) throw ConfigError(str(model_type, ".rms_norm_eps"), "must be positive");
  if (rope_theta <= 0) throw ConfigError(str(model_type, ".rope_theta"), "must be positive");
  if (attention_dropout != 0.0)
    throw ConfigError(str(model_type, ".attention_dropout"), "attention dropout is not supported", "set it to 0.0");
  const auto& rs = rope_scaling;
  if (rs.rope_type != "default" && rs.rope_type != "linear" && rs.rope_type != "llama3")
    throw ConfigError(str(model_type, ".rope_scaling.rope_type"), str("'", rs.rope_type, "' is not supported"),
                      "supported: null (default), linear, llama3");
  if (rs.rope_type != "default" && rs.factor <= 0)
    throw ConfigError(str(model_type, ".rope_scaling.factor"), "must be positive");
  if (rs.rope_type == "llama3" && rs.high_freq_factor <= rs.low_freq_factor)
    throw ConfigError(str(model_type, ".rope_scaling.high_freq_factor"), "must exceed low_freq_factor");
  if (qwen3() && mlp_bias) throw ConfigError("qwen3.mlp_bias", "Qwen3 has no MLP biases");
}

namespace {

RopeScaling read_rope_scaling(const nlohmann::json& j, const std::string& origin) {
  RopeScaling rs;
  auto num = [&](const char* key, double fallback) {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_number()) throw FileError(origin, str("rope_scaling.", key, " must be a number"));
    return j[key].get<double>();
  };
  if (j.contains("rope_type") && j["rope_type"].is_string()) rs.rope_type = j["rope_type"].get<std::string>();
  else if (j.contains("type") && j["type"].is_string()) rs.rope_type = j["type"].get<std::string>();
  rs.factor = num("factor", rs.factor);
  rs.low_freq_factor = num("low_freq_factor", rs.low_freq_factor);
  rs.high_freq_factor = num("high_freq_factor", rs.high_freq_factor);
  rs.original_max_position_embeddings =
      static_cast<int64_t>(num("original_max_position_embeddings", static_cast<double>(rs.original_max_position_embeddings)));
  return rs;
}

}  // namespace

DecoderConfig DecoderConfig::from_hf(const HfConfig& j) {
  const std::string type = j.get_string("model_type", "");
  if (type != "llama" && type != "qwen3")
    throw FileError(j.origin(), str("model_type is '", type, "', expected 'llama' or 'qwen3'"),
                    "point at a Llama-layout (SmolLM) or Qwen3 model folder");
  DecoderConfig c = read_fields(j, defaults_for(type));
  c.model_type = type;
  // transformers derives these two when config.json leaves them out (or null).
  if (!j.has("num_key_value_heads")) c.num_key_value_heads = c.num_attention_heads;
  if (!j.has("head_dim")) c.head_dim = c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0;
  if (!j.has("torch_dtype")) c.torch_dtype = j.get_string("dtype", c.torch_dtype);  // transformers >= 5
  const nlohmann::json& root = j.json();
  if (root.contains("rope_scaling") && root["rope_scaling"].is_object())
    c.rope_scaling = read_rope_scaling(root["rope_scaling"], j.origin());
  if (root.contains("rope_parameters") && root["rope_parameters"].is_object()) {  // transformers >= 5
    c.rope_scaling = read_rope_scaling(root["rope_parameters"], j.origin());
    const auto& rp = root["rope_parameters"];
    if (rp.contains("rope_theta") && rp["rope_theta"].is_number()) c.rope_theta = rp["rope_theta"].get<double>();
  }
  if (root.contains("eos_token_id")) {
    const auto& e = root["eos_token_id"];
    if (e.is_number_integer()) c.eos_token_id = {e.get<int64_t>()};
    else if (e.is_array())
      for (const auto& id : e)
        if (id.is_number_integer()) c.eos_token_id.push_back(id.get<int64_t>());
  }
  if (j.get_bool("use_sliding_window", false))
    throw FileError(j.origin(), "use_sliding_window is true: sliding-window attention is not supported");
  return c;
}

DecoderConfig DecoderConfig::from_json(const std::string& path) { return from_hf(HfConfig::load(path)); }

nlohmann::json DecoderConfig::to_json() const {
  nlohmann::json j = write_fields(*this, model_type, qwen3() ? "Qwen3ForCausalLM" : "LlamaForCausalLM");
  j["use_cache"] = true;
  if (qwen3()) j.erase("mlp_bias");  // Qwen3Config has no such key
  if (rope_scaling.rope_type == "default") {
    j["rope_scaling"] = nullptr;
  } else {
    j["rope_scaling"] = {{"rope_type", rope_scaling.rope_type}, {"factor", rope_scaling.factor}};
    if (rope_scaling.rope_type == "llama3") {
      j["rope_scaling"]["low_freq_factor"] = rope_scaling.low_freq_factor;
      j["rope_scaling"]["high_freq_factor"] = rope_scaling.high_freq_factor;
      j["rope_scaling"]["original_max_position_embeddings"] = rope_scaling.original_max_position_embeddings;
    }
  }
  if (eos_token_id.size() == 1) j["eos_token_id"] = eos_token_id[0];
  else if (!eos_token_id.empty()) j["eos_token_id"] = eos_token_id;
  return j;
}

namespace {

DecoderConfig preset(const char* name, const nlohmann::json& config_json) {
  return DecoderConfig::from_hf(HfConfig::from_json(config_json, str("the ", name, " preset")));
}

nlohmann::json tiny_config_json(const char* model_type) {
  return {{"model_type", model_type}, {"vocab_size", 100},       {"hidden_size", 32},
          {"intermediate_size", 64},  {"num_hidden_layers", 2},  {"num_attention_heads", 4},
          {"num_key_value_heads", 2}, {"head_dim", 8},           {"rms_norm_eps", 1e-5},
          {"max_position_embeddings", 128}, {"eos_token_id", 2}, {"bos_token_id", 1}};
}

}  // namespace

DecoderConfig DecoderConfig::tiny_llama() { return preset("tiny_llama", tiny_config_json("llama")); }

DecoderConfig DecoderConfig::tiny_qwen3() {
  nlohmann::json j = tiny_config_json("qwen3");
  j["head_dim"] = 16;  // Qwen3's head_dim is independent of hidden_size / heads
  j["rms_norm_eps"] = 1e-6;
  j["rope_theta"] = 1000000.0;
  return preset("tiny_qwen3", j);
}

DecoderConfig DecoderConfig::qwen3_0_6b() {  // Qwen/Qwen3-0.6B's config.json, size keys
  return preset("qwen3_0_6b", {{"model_type", "qwen3"},         {"vocab_size", 151936},
                               {"hidden_size", 1024},           {"intermediate_size", 3072},
                               {"num_hidden_layers", 28},       {"num_attention_heads", 16},
                               {"num_key_value_heads", 8},      {"head_dim", 128},
                               {"rms_norm_eps", 1e-6},          {"rope_theta", 1000000.0},
                               {"max_position_embeddings", 40960}, {"tie_word_embeddings", true},
                               {"initializer_range", 0.02},     {"eos_token_id", 151645},
                               {"bos_token_id", 151643}});
}

DecoderConfig DecoderConfig::smollm_135m() {  // HuggingFaceTB/SmolLM-135M's config.json, size keys
  return preset("smollm_135m", {{"model_type", "llama"},          {"vocab_size", 49152},
                                {"hidden_size", 576},             {"intermediate_size", 1536},
                                {"num_hidden_layers", 30},        {"num_attention_heads", 9},
                                {"num_key_value_heads", 3},       {"head_dim", 64},
                                {"rms_norm_eps", 1e-5},           {"max_position_embeddings", 2048},
                                {"tie_word_embeddings", true},    {"initializer_range", 0.041666666666666664},
                                {"eos_token_id", 0},              {"bos_token_id", 0}});
}

// ---- building blocks ----------------------------------------------------------------------------

at::Tensor rope_inv_freq(const DecoderConfig& cfg) {
  const int64_t dim = cfg.head_dim;
  at::Tensor inv_freq =
      1.0 / torch::pow(cfg.rope_theta, torch::arange(0, dim, 2, torch::kDouble) / static_cast<double>(dim));  // (Dh/2)
  const RopeScaling& rs = cfg.rope_scaling;
  if (rs.rope_type == "linear") return inv_freq / rs.factor;
  if (rs.rope_type != "llama3") return inv_freq;
  // Llama 3.1: long wavelengths slowed by `factor`, short ones kept, a smooth ramp between.
  const double old_len = static_cast<double>(rs.original_max_position_embeddings);
  const double low_wavelen = old_len / rs.low_freq_factor, high_wavelen = old_len / rs.high_freq_factor;
  const at::Tensor wavelen = 2 * std::numbers::pi / inv_freq;
  at::Tensor scaled = torch::where(wavelen > low_wavelen, inv_freq / rs.factor, inv_freq);
  const at::Tensor smooth = (old_len / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
  const at::Tensor smoothed = (1 - smooth) * scaled / rs.factor + smooth * scaled;
  const at::Tensor medium = wavelen.ge(high_wavelen).logical_and(wavelen.le(low_wavelen));
  return torch::where(medium, smoothed, scaled);
}

at::Tensor rope_tables(const at::Tensor& positions, const at::Tensor& inv_freq, bool double_precision) {
  const auto compute = double_precision ? at::kDouble : at::kFloat;
  const at::Tensor freqs = positions.to(compute).unsqueeze(-1) *
                           inv_freq.to(positions.device(), compute);  // (B, T, Dh/2)
  const at::Tensor emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);  // (B, 1, T, Dh)
  return torch::stack({emb.cos(), emb.sin()});                          // (2, B, 1, T, Dh)
}

at::Tensor apply_rope_tables(const at::Tensor& x, const at::Tensor& tables) {
  const at::Tensor cs = tables.to(x.scalar_type());  // no-op when the dtypes agree
  const int64_t half = x.size(-1) / 2;
  const at::Tensor rotated = torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);  // (B, H, T, Dh)
  return x * cs[0] + rotated * cs[1];
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& positions, const at::Tensor& inv_freq) {
  return apply_rope_tables(x, rope_tables(positions.to(x.device()), inv_freq, x.scalar_type() == at::kDouble));
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const auto compute = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor h = x.to(compute);
  const at::Tensor normed = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(x.scalar_type());
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) { weight = register_parameter("weight", torch::ones({dim})); }

DecoderAttentionImpl::DecoderAttentionImpl(const DecoderConfig& cfg) : cfg_(cfg) {
  const int64_t D = cfg.hidden_size, H = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads, Dh = cfg.head_dim;
  q_proj = register_module("q_proj", LoraLinear(D, H * Dh, cfg.attention_bias));
  k_proj = register_module("k_proj", LoraLinear(D, Hkv * Dh, cfg.attention_bias));
  v_proj = register_module("v_proj", LoraLinear(D, Hkv * Dh, cfg.attention_bias));
  o_proj = register_module("o_proj", LoraLinear(H * Dh, D, cfg.attention_bias));
  if (cfg.qwen3()) {
    q_norm = register_module("q_norm", RMSNorm(Dh, cfg.rms_norm_eps));
    k_norm = register_module("k_norm", RMSNorm(Dh, cfg.rms_norm_eps));
  }
}

at::Tensor DecoderAttentionImpl::forward(const at::Tensor& x, const at::Tensor& rope, const at::Tensor& mask,
                                         bool is_causal, LayerCache* cache) {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = cfg_.num_attention_heads, Hkv = cfg_.num_key_value_heads, Dh = cfg_.head_dim;
  at::Tensor q = q_proj(x).view({B, T, H, Dh});    // (B, T, H, Dh)
  at::Tensor k = k_proj(x).view({B, T, Hkv, Dh});  // (B, T, Hkv, Dh)
  at::Tensor v = v_proj(x).view({B, T, Hkv, Dh}).transpose(1, 2);  // (B, Hkv, T, Dh)
  if (cfg_.qwen3()) {
    q = q_norm(q);
    k = k_norm(k);
  }
  const at::Tensor tables = rope.to(q.scalar_type());  // one cast for q and k
  q = apply_rope_tables(q.transpose(1, 2), tables);    // (B, H, T, Dh)
  k = apply_rope_tables(k.transpose(1, 2), tables);    // (B, Hkv, T, Dh)
  if (cache != nullptr) {
    if (cache->keys.defined()) {
      k = torch::cat({cache->keys, k}, 2);    // (B, Hkv, S, Dh)
      v = torch::cat({cache->values, v}, 2);  // (B, Hkv, S, Dh)
    }
    cache->keys = k;
    cache->values = v;
  }
  if (H != Hkv) {  // transformers' repeat_kv: each key/value head serves H / Hkv query heads
    const int64_t S = k.size(2);
    k = k.unsqueeze(2).expand({B, Hkv, H / Hkv, S, Dh}).reshape({B, H, S, Dh});  // (B, H, S, Dh)
    v = v.unsqueeze(2).expand({B, Hkv, H / Hkv, S, Dh}).reshape({B, H, S, Dh});  // (B, H, S, Dh)
  }
  const at::Tensor out = compat::attention(q, k, v, mask, is_causal, 1.0 / std::sqrt(static_cast<double>(Dh)));  // (B, H, T, Dh)
  return o_proj(out.transpose(1, 2).reshape({B, T, H * Dh}));  // (B, T, D)
}

DecoderMLPImpl::DecoderMLPImpl(const DecoderConfig& cfg) {
  const int64_t D = cfg.hidden_size, I = cfg.intermediate_size;
  gate_proj = register_module("gate_proj", LoraLinear(D, I, cfg.mlp_bias));
  up_proj = register_module("up_proj", LoraLinear(D, I, cfg.mlp_bias));
  down_proj = register_module("down_proj", LoraLinear(I, D, cfg.mlp_bias));
}

DecoderLayerImpl::DecoderLayerImpl(const DecoderConfig& cfg) {
  self_attn = register_module("self_attn", DecoderAttention(cfg));
  mlp = register_module("mlp", DecoderMLP(cfg));
  input_layernorm = register_module("input_layernorm", RMSNorm(cfg.hidden_size, cfg.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(cfg.hidden_size, cfg.rms_norm_eps));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& rope, const at::Tensor& mask,
                                     bool is_causal, LayerCache* cache) {
  const at::Tensor h = x + self_attn(input_layernorm(x), rope, mask, is_causal, cache);  // (B, T, D)
  return h + mlp(post_attention_layernorm(h));                                                          // (B, T, D)
}

// ---- the LM -----------------------------------------------------------------------------------

DecoderLMImpl::DecoderLMImpl(const DecoderConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  auto model = add_group(*this, "model");
  auto embed_options = torch::nn::EmbeddingOptions(cfg.vocab_size, cfg.hidden_size);
  if (cfg.pad_token_id && *cfg.pad_token_id >= 0 && *cfg.pad_token_id < cfg.vocab_size)
    embed_options.padding_idx(*cfg.pad_token_id);
  embed_tokens = model->register_module("embed_tokens", torch::nn::Embedding(embed_options));
  auto list = model->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    layers.push_back(DecoderLayer(cfg));
    list->push_back(layers.back());
  }
  norm = model->register_module("norm", RMSNorm(cfg.hidden_size, cfg.rms_norm_eps));
  if (!cfg.tie_word_embeddings)
    lm_head = register_module("lm_head", Linear(torch::nn::LinearOptions(cfg.hidden_size, cfg.vocab_size).bias(false)));
  inv_freq_ = rope_inv_freq(cfg_);

  // transformers' _init_weights: Linear and Embedding ~ N(0, initializer_range), biases 0, norms 1.
  torch::NoGradGuard no_grad;
  for (auto& [name, layer] : lora_linears(*this)) {
    layer->weight.normal_(0.0, cfg.initializer_range);
    if (layer->bias.defined()) layer->bias.zero_();
  }
  embed_tokens->weight.normal_(0.0, cfg.initializer_range);
  if (cfg.pad_token_id && *cfg.pad_token_id >= 0 && *cfg.pad_token_id < cfg.vocab_size)
    embed_tokens->weight[*cfg.pad_token_id].zero_();
  if (!lm_head.is_empty()) lm_head->weight.normal_(0.0, cfg.initializer_range);
}

at::Tensor DecoderLMImpl::embed(const at::Tensor& input_ids) { return embed_tokens(input_ids); }

at::Tensor DecoderLMImpl::output_embedding() const { return lm_head.is_empty() ? embed_tokens->weight : lm_head->weight; }

at::Tensor DecoderLMImpl::lm_logits(const at::Tensor& hidden) {
  return torch::linear(hidden.to(output_embedding().scalar_type()), output_embedding());  // (B, T, V)
}

KVCache DecoderLMImpl::new_cache() const {
  KVCache cache;
  cache.layers.resize(static_cast<size_t>(cfg_.num_hidden_layers));
  return cache;
}

DecoderOutput DecoderLMImpl::forward(const DecoderInput& in) {
  TORCH_CHECK(in.input_ids.defined() != in.inputs_embeds.defined(), "pass exactly one of input_ids and inputs_embeds");
  at::Tensor x;
  if (in.input_ids.defined()) {
    check_rank(in.input_ids, 2, "input_ids", "(B, T)");
    x = embed_tokens(in.input_ids);  // (B, T, D)
  } else {
    check_rank(in.inputs_embeds, 3, "inputs_embeds", "(B, T, D)");
    TORCH_CHECK(in.inputs_embeds.size(2) == cfg_.hidden_size, "inputs_embeds width ", in.inputs_embeds.size(2),
                " != hidden_size ", cfg_.hidden_size);
    x = in.inputs_embeds.to(embed_tokens->weight.scalar_type());
  }
  const int64_t B = x.size(0), T = x.size(1);
  KVCache* cache = in.cache;
  if (cache != nullptr && cache->layers.empty()) *cache = new_cache();
  const int64_t past = cache != nullptr ? cache->length() : 0, S = past + T;
  const auto device = x.device();

  at::Tensor mask01;  // (B, S) bool, true = token
  if (in.attention_mask.defined()) {
    check_rank(in.attention_mask, 2, "attention_mask", "(B, S)");
    TORCH_CHECK(in.attention_mask.size(0) == B && in.attention_mask.size(1) == S, "attention_mask is ",
                in.attention_mask.sizes(), ", expected (", B, ", ", S, ") = (batch, cached + new tokens)");
    mask01 = in.attention_mask.to(device).ne(0);
  }
  at::Tensor positions = in.position_ids;  // (B, T)
  if (!positions.defined()) {
    if (mask01.defined()) {
      // transformers' generate: position = number of real tokens before, padding at position 1.
      positions = (mask01.to(at::kLong).cumsum(-1) - 1).masked_fill(mask01.logical_not(), 1).slice(1, past, S);  // (B, T)
    } else {
      positions = torch::arange(past, S, torch::TensorOptions().dtype(at::kLong).device(device)).expand({B, T});  // (B, T)
    }
  }

  at::Tensor mask;
  bool is_causal = false;
  if (!mask01.defined() && past == 0) {
    is_causal = T > 1;
  } else if (mask01.defined() || T > 1) {
    const auto long_opts = torch::TensorOptions().dtype(at::kLong).device(device);
    at::Tensor allowed = torch::arange(S, long_opts).unsqueeze(0).le(torch::arange(past, S, long_opts).unsqueeze(1));  // (T, S)
    allowed = allowed.view({1, 1, T, S});                                                                 // (1, 1, T, S)
    if (mask01.defined()) {
      allowed = allowed.logical_and(mask01.view({B, 1, 1, S}));  // (B, 1, T, S)
      // A padding query always sees itself: no row is fully masked, so padded positions stay finite,
      // do not depend on later tokens (cache == recompute) and pass no gradient through masked scores.
      const at::Tensor self = torch::arange(S, long_opts).unsqueeze(0).eq(torch::arange(past, S, long_opts).unsqueeze(1));  // (T, S)
      allowed = allowed.logical_or(self.view({1, 1, T, S}));  // (B, 1, T, S)
    }
    mask = additive_from_bool(allowed, x.scalar_type());
  }

  if (!inv_freq_device_.defined() || inv_freq_device_.device() != device) inv_freq_device_ = inv_freq_.to(device);
  // cos/sin once for all layers (fp32; double when the model runs in double).
  const at::Tensor rope = rope_tables(positions.to(device), inv_freq_device_, x.scalar_type() == at::kDouble);  // (2, B, 1, T, Dh)
  for (size_t i = 0; i < layers.size(); ++i)
    x = layers[i](x, rope, mask, is_causal, cache != nullptr ? &cache->layers[i] : nullptr);
  DecoderOutput out;
  out.last_hidden_state = norm(x);  // (B, T, D)
  if (in.compute_logits) {
    const at::Tensor h = in.logits_to_keep > 0 && in.logits_to_keep < T
                             ? out.last_hidden_state.slice(1, T - in.logits_to_keep)
                             : out.last_hidden_state;  // (B, T', D)
    out.logits = lm_logits(h);  // (B, T', V)
  }
  return out;
}

// ---- loading and saving -------------------------------------------------------------------------

NameTable decoder_name_table(const DecoderConfig& cfg) {
  NameTable t;
  t.model = cfg.qwen3() ? "Qwen3" : "Llama";
  t.skip = {{"*.rotary_emb.inv_freq", "RoPE frequencies, rebuilt from the config"}};
  if (cfg.tie_word_embeddings)
    t.skip.push_back({"lm_head.weight", "tie_word_embeddings: the LM head is model.embed_tokens.weight"});
  t.computed = {{"*.lora_A.*", "LoRA adapters live in a PEFT adapter folder"},
                {"*.lora_B.*", "LoRA adapters live in a PEFT adapter folder"}};
  return t;
}

LoadedDecoder load_decoder(const std::string& folder, at::ScalarType dtype) {
  DecoderConfig cfg = DecoderConfig::from_json(folder);
  DecoderLM model(cfg);
  model->to(dtype);
  load_weights(*model, folder, decoder_name_table(cfg));
  model->eval();
  return {cfg, model};
}

void save_decoder(DecoderLMImpl& model, const std::string& folder) {
  std::filesystem::create_directories(folder);
  DecoderConfig cfg = model.config();
  const auto dtype = model.embed_tokens->weight.scalar_type();
  cfg.torch_dtype = dtype == at::kBFloat16 ? "bfloat16" : dtype == at::kHalf ? "float16" : "float32";
  write_config_json(folder + "/config.json", cfg.to_json());
  save_weights(model, folder + "/model.safetensors", decoder_name_table(cfg));
}

}  // namespace vlm::models
