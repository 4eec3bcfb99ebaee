// PEFT-format LoRA adapter folders (see peft.h). Field names and defaults follow peft's LoraConfig;
// the key layout follows get_peft_model_state_dict (adapter name removed from saved keys).
// Shape letters: I in_features, O out_features, R rank.
#include "models/peft.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "core/error.h"
#include "io/tensor_store.h"
#include "models/hf_config.h"

namespace vlm::models {
namespace {

namespace fs = std::filesystem;

std::string config_path_of(const std::string& path) {
  return fs::is_directory(path) ? (fs::path(path) / "adapter_config.json").string() : path;
}

std::string weights_path_of(const std::string& path) {
  const fs::path dir = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  return (dir / "adapter_model.safetensors").string();
}

std::string shape_str(at::IntArrayRef shape) {
  std::ostringstream out;
  out << shape;
  return out.str();
}

}  // namespace

nlohmann::json peft_config_json(torch::nn::Module& model, const LoraConfig& cfg, const std::string& base_model) {
  using nlohmann::json;
  return json{{"peft_type", "LORA"},
              {"task_type", "CAUSAL_LM"},
              {"base_model_name_or_path", base_model.empty() ? json(nullptr) : json(base_model)},
              {"r", cfg.r},
              {"lora_alpha", cfg.lora_alpha},
              {"lora_dropout", cfg.lora_dropout},
              {"target_modules", lora_target_names(model)},
              {"bias", "none"},
              {"use_rslora", cfg.use_rslora},
              {"use_dora", false},
              {"fan_in_fan_out", false},
              {"init_lora_weights", true},
              {"inference_mode", true},
              {"modules_to_save", nullptr},
              {"layers_to_transform", nullptr},
              {"layers_pattern", nullptr},
              {"rank_pattern", json::object()},
              {"alpha_pattern", json::object()},
              {"revision", nullptr}};
}

void save_peft_adapter(torch::nn::Module& model, const LoraConfig& cfg, const std::string& dir,
                       const std::string& base_model_name_or_path) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, tensor] : lora_state(model)) tensors.emplace_back(kPeftKeyPrefix + name, tensor.detach());
  if (tensors.empty()) throw Error("save_peft_adapter: the model has no LoRA adapters", "call apply_lora first");
  fs::create_directories(dir);
  write_config_json((fs::path(dir) / "adapter_config.json").string(), peft_config_json(model, cfg, base_model_name_or_path));
  io::save_tensors((fs::path(dir) / "adapter_model.safetensors").string(), tensors, {{"format", "pt"}});
}

PeftConfig read_peft_config(const std::string& path) {
  const std::string file = config_path_of(path);
  const HfConfig j = HfConfig::load(file);
  const std::string type = j.get_string("peft_type", "");
  if (type != "LORA")
    throw FileError(file, str("peft_type is '", type, "', only LORA adapters are supported"));
  auto refuse_if = [&](bool bad, const std::string& what) {
    if (bad) throw FileError(file, what + " is not supported", "export a plain LoRA adapter");
  };
  refuse_if(j.get_bool("use_dora", false), "use_dora");
  refuse_if(j.get_bool("fan_in_fan_out", false), "fan_in_fan_out");
  refuse_if(j.get_string("bias", "none") != "none", "bias other than 'none'");
  const nlohmann::json& root = j.json();
  auto non_empty = [&](const char* key) {
    return root.contains(key) && !root[key].is_null() && !(root[key].is_object() && root[key].empty()) &&
           !(root[key].is_array() && root[key].empty());
  };
  refuse_if(non_empty("modules_to_save"), "modules_to_save");
  refuse_if(non_empty("rank_pattern"), "rank_pattern");
  refuse_if(non_empty("alpha_pattern"), "alpha_pattern");
  refuse_if(non_empty("layers_to_transform"), "layers_to_transform");

  PeftConfig out;
  out.lora.r = j.get_int("r", 8);
  out.lora.lora_alpha = j.get_double("lora_alpha", 8);
  out.lora.lora_dropout = j.get_double("lora_dropout", 0.0);
  out.lora.use_rslora = j.get_bool("use_rslora", false);
  out.base_model_name_or_path = j.get_string("base_model_name_or_path", "");
  out.lora.target_modules.clear();
  if (root.contains("target_modules") && root["target_modules"].is_string()) {
    out.target_regex = root["target_modules"].get<std::string>();
    if (out.target_regex == "all-linear") {
      out.lora.target_modules = {"all-linear"};
      out.target_regex.clear();
    }
  } else if (root.contains("target_modules") && root["target_modules"].is_array()) {
    for (const auto& t : root["target_modules"]) {
      if (!t.is_string()) throw FileError(file, "target_modules must hold strings");
      out.lora.target_modules.push_back(t.get<std::string>());
    }
  } else {
    throw FileError(file, "target_modules is missing", "PEFT writes the wrapped module names there");
  }
  try {
    if (out.target_regex.empty()) out.lora.validate();
  } catch (const ConfigError& e) {
    throw FileError(file, e.what());
  }
  return out;
}

PeftConfig load_peft_adapter(torch::nn::Module& model, const std::string& dir) {
  PeftConfig cfg = read_peft_config(dir);
  bool has_any = false;
  for (const auto& [name, layer] : lora_linears(model)) has_any = has_any || layer->has_adapter();
  if (!has_any) {
    LoraConfig lora = cfg.lora;
    if (!cfg.target_regex.empty()) {  // PEFT: a string is a regex over whole module names
      const std::regex re(cfg.target_regex);
      lora.target_modules.clear();
      for (const auto& [name, layer] : lora_linears(model))
        if (std::regex_match(name, re)) lora.target_modules.push_back(name);
      if (lora.target_modules.empty())
        throw FileError(config_path_of(dir), str("target_modules regex '", cfg.target_regex, "' matches no layer"));
    }
    apply_lora(model, lora);
  }

  const std::string file = weights_path_of(dir);
  const io::TensorStore store = io::TensorStore::open(file);
  std::map<std::string, at::Tensor> targets;
  for (const auto& [name, tensor] : lora_state(model)) targets.emplace(kPeftKeyPrefix + name, tensor);
  std::vector<std::string> problems;
  std::set<std::string> used;
  for (const std::string& key : store.names()) {
    auto it = targets.find(key);
    if (it == targets.end()) {
      problems.push_back(str("unexpected: ", key, " ", shape_str(store.info(key).shape)));
      continue;
    }
    used.insert(key);
    if (at::IntArrayRef(store.info(key).shape) != it->second.sizes())
      problems.push_back(str("shape mismatch: ", key, ": model expects ", shape_str(it->second.sizes()), ", file has ",
                             shape_str(store.info(key).shape)));
  }
  for (const auto& [key, tensor] : targets)
    if (!used.count(key)) problems.push_back(str("missing: ", key, " ", shape_str(tensor.sizes())));
  if (!problems.empty()) {
    std::ostringstream msg;
    msg << "cannot load the LoRA adapter: " << problems.size() << " problem" << (problems.size() == 1 ? "" : "s");
    for (const auto& p : problems) msg << "\n  " << p;
    throw FileError(file, msg.str(),
                    "check that the adapter was trained on this base model and that adapter_config.json's "
                    "target_modules and r match the file");
  }
  torch::NoGradGuard no_grad;
  for (const auto& [key, tensor] : targets) tensor.copy_(store.get(key));
  return cfg;
}

void save_decoder_merged(DecoderLMImpl& lm, const std::string& folder) {
  // Every projection in the model's dtype (its embedding's: the one config.json names), also
  // those a bf16 run stored in bf16 while frozen (models/frozen_bf16.h).
  const at::ScalarType dtype = lm.embed_tokens->weight.scalar_type();
  std::vector<std::tuple<LoraLinear, at::Tensor, at::Tensor>> originals;
  const auto restore = [&] {
    for (auto& [layer, weight, bias] : originals) {
      layer->weight.set_data(weight);
      if (bias.defined()) layer->bias.set_data(bias);
    }
  };
  try {
    torch::NoGradGuard no_grad;
    for (auto& [name, layer] : lora_linears(lm)) {
      const bool merge = layer->has_adapter() && !layer->merged();
      if (!merge && layer->weight.scalar_type() == dtype) continue;
      originals.emplace_back(layer, layer->weight.data(), layer->bias.defined() ? layer->bias.data() : at::Tensor());
      layer->weight.set_data(merge ? layer->merged_weight(dtype) : layer->weight.to(dtype));
      if (layer->bias.defined()) layer->bias.set_data(layer->bias.to(dtype));
    }
    save_decoder(lm, folder);
  } catch (...) {
    restore();
    throw;
  }
  restore();
}

}  // namespace vlm::models
