// LoRA adapters in PEFT's folder format (peft/utils/save_and_load.py, peft/tuners/lora/config.py):
// adapter_config.json (peft_type "LORA", r, lora_alpha, target_modules, ...) and
// adapter_model.safetensors whose keys are `base_model.model.<module>.lora_A.weight` /
// `.lora_B.weight` with no adapter name, so `PeftModel.from_pretrained` loads what we save and we
// load what PEFT saves. Only plain LoRA is accepted (no DoRA, rank/alpha patterns, modules_to_save).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>

#include "models/decoder.h"
#include "models/lora.h"

namespace torch::nn { class Module; }

namespace vlm::models {

// The prefix PEFT's PeftModelForCausalLM puts in front of the wrapped model's module names.
inline constexpr const char* kPeftKeyPrefix = "base_model.model.";

// adapter_config.json for the adapters on `model` (target_modules: the wrapped names, resolved).
nlohmann::json peft_config_json(torch::nn::Module& model, const LoraConfig& cfg, const std::string& base_model);

// Writes DIR/adapter_config.json and DIR/adapter_model.safetensors (creating DIR).
void save_peft_adapter(torch::nn::Module& model, const LoraConfig& cfg, const std::string& dir,
                       const std::string& base_model_name_or_path = "");

// Reads DIR/adapter_config.json (or the file itself); throws FileError for anything but plain LoRA.
// A regex target_modules string is kept in `regex` (PEFT matches it against whole module names).
struct PeftConfig {
  LoraConfig lora;
  std::string target_regex;             // non-empty when target_modules is a string
  std::string base_model_name_or_path;
};
PeftConfig read_peft_config(const std::string& path);

// Adds the adapters described by DIR/adapter_config.json to `model` (unless it already has exactly
// those) and fills them from adapter_model.safetensors, strictly: every key used, every adapter
// filled, shapes checked; one FileError lists all problems. Returns the config read.
PeftConfig load_peft_adapter(torch::nn::Module& model, const std::string& dir);

// save_decoder with every LoRA adapter merged into its weight (W + scaling B A): a plain HF folder
// of the tuned LM. The model itself is left exactly as it was (its weights are swapped back).
void save_decoder_merged(DecoderLMImpl& lm, const std::string& folder);

}  // namespace vlm::models
