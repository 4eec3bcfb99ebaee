// The vision-to-language adapter: a 2-layer MLP (Linear -> GELU -> Linear) from the Q-Former width to
// the LM width, applied to every query output (nanoVLM's modality projector, LLaVA's
// multi_modal_projector, whose names linear_1 / linear_2 it keeps). PyTorch's default Linear init.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/torch.h>

#include <string>

#include "models/linear.h"
#include "models/weights.h"

namespace vlm::models {

class HfConfig;

struct AdapterConfig {
  int64_t input_size = 768;        // e.g. 768: the Q-Former's hidden size
  int64_t hidden_size = 576;       // e.g. 576: usually the LM width (SmolLM-135M)
  int64_t output_size = 576;       // e.g. 576 (SmolLM-135M), 1024 (Qwen3-0.6B): the LM's hidden_size
  std::string hidden_act = "gelu"; // e.g. "gelu"

  // The config.json keys, listed once: from_hf and to_json visit this list (config_fields.h).
  template <class Self, class F>
  static void fields(Self& c, F&& f) {
    f("input_size", c.input_size);
    f("hidden_size", c.hidden_size);
    f("output_size", c.output_size);
    f("hidden_act", c.hidden_act);
  }

  void validate() const;
  static AdapterConfig from_hf(const HfConfig& json);  // model_type "vlm_adapter"
  static AdapterConfig from_json(const std::string& path);
  nlohmann::json to_json() const;
};

class AdapterImpl : public torch::nn::Module {
 public:
  explicit AdapterImpl(const AdapterConfig& cfg);
  // (B, Q, input_size) -> (B, Q, output_size)
  at::Tensor forward(const at::Tensor& x);
  const AdapterConfig& config() const { return cfg_; }

 private:
  AdapterConfig cfg_;
  Linear linear_1_{nullptr}, linear_2_{nullptr};
};
TORCH_MODULE(Adapter);

// linear_1.*, linear_2.*; a LLaVA-style `multi_modal_projector.` prefix is stripped when present.
NameTable adapter_name_table();

struct LoadedAdapter {
  AdapterConfig config;
  Adapter model;
};
LoadedAdapter load_adapter(const std::string& folder);  // config.json + model.safetensors
void save_adapter(const Adapter& model, const std::string& folder);  // created or replaced atomically

}  // namespace vlm::models
