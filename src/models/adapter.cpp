// The 2-layer MLP adapter (see adapter.h). Shape letters: B batch, Q queries.
#include "models/adapter.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/atomic_file.h"
#include "models/config_fields.h"
#include "models/encoder_ops.h"
#include "models/hf_config.h"

namespace vlm::models {

void AdapterConfig::validate() const {
  if (input_size <= 0) throw ConfigError("adapter.input_size", "must be positive", "set it to the Q-Former width");
  if (hidden_size <= 0) throw ConfigError("adapter.hidden_size", "must be positive");
  if (output_size <= 0) throw ConfigError("adapter.output_size", "must be positive", "set it to the LM's hidden_size");
  if (!is_known_activation(hidden_act)) throw ConfigError("adapter.hidden_act", str("unknown activation '", hidden_act, "'"));
}

AdapterConfig AdapterConfig::from_hf(const HfConfig& j) {
  const std::string type = j.require_string("model_type");
  if (type != "vlm_adapter") throw FileError(j.origin(), str("model_type is '", type, "', expected 'vlm_adapter'"));
  return read_fields<AdapterConfig>(j);
}

AdapterConfig AdapterConfig::from_json(const std::string& path) { return from_hf(HfConfig::load(path)); }

nlohmann::json AdapterConfig::to_json() const { return write_fields(*this, "vlm_adapter"); }

AdapterImpl::AdapterImpl(const AdapterConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  linear_1_ = register_module("linear_1", Linear(cfg.input_size, cfg.hidden_size));
  linear_2_ = register_module("linear_2", Linear(cfg.hidden_size, cfg.output_size));
}

at::Tensor AdapterImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == cfg_.input_size, "adapter input must end in ", cfg_.input_size,
              " features, got ", x.sizes());
  return linear_2_(activation(cfg_.hidden_act, linear_1_(x)));  // (B, Q, output_size)
}

NameTable adapter_name_table() {
  NameTable t;
  t.model = "adapter";
  t.prefix = "multi_modal_projector.";
  return t;
}

LoadedAdapter load_adapter(const std::string& folder) {
  const AdapterConfig cfg = AdapterConfig::from_json(folder);
  Adapter model(cfg);
  load_weights(*model, folder, adapter_name_table());
  model->eval();
  return {cfg, model};
}

void save_adapter(const Adapter& model, const std::string& folder) {
  io::write_dir_atomic(folder, [&](const std::string& tmp) {
    write_config_json(tmp + "/config.json", model->config().to_json());
    save_weights(*model, tmp + "/model.safetensors", adapter_name_table());
  });
}

}  // namespace vlm::models
