// Reading and writing a model config's config.json keys from its one field list. Each config
// struct (ViTConfig, DistilBertConfig, BertConfig, QFormerConfig, AdapterConfig, DecoderConfig)
// names its keys once, in `template <class Self, class F> static void fields(Self&, F&&)`, and
// from_hf / to_json are these two visitors over that list, so a key is spelled in one place.
// Hand-written: nlohmann's NLOHMANN_DEFINE_TYPE macros cannot keep transformers' defaults for absent
// keys, read null as absent, or name the file and the key in errors (HfConfig does).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "config/enums.h"
#include "core/error.h"
#include "models/hf_config.h"

namespace vlm::models {

// Fills each listed field whose key is present in `json`; an absent or null key keeps the
// struct's default (transformers' default); a wrong type throws FileError naming file and key.
class FieldReader {
 public:
  explicit FieldReader(const HfConfig& json) : json_(json) {}
  void operator()(const char* key, int64_t& v) const { v = json_.get_int(key, v); }
  void operator()(const char* key, double& v) const { v = json_.get_double(key, v); }
  void operator()(const char* key, bool& v) const { v = json_.get_bool(key, v); }
  void operator()(const char* key, std::string& v) const { v = json_.get_string(key, v); }
  void operator()(const char* key, std::optional<int64_t>& v) const {
    if (json_.has(key)) v = json_.get_int(key, 0);
  }
  void operator()(const char* key, std::vector<int64_t>& v) const {
    if (json_.has(key)) v = json_.get_int_list(key);
  }
  template <typename E>
    requires std::is_enum_v<E>
  void operator()(const char* key, E& v) const {
    if (!json_.has(key)) return;
    const std::string name = json_.get_string(key, "");
    const auto parsed = config::parse_enum<E>(name);
    if (!parsed) throw FileError(json_.origin(), str("key '", key, "': ", config::not_one_of<E>(name)),
                                 "fix the value in config.json");
    v = *parsed;
  }

 private:
  const HfConfig& json_;
};

// Writes each listed field into a config.json object; an unset optional and an empty list are
// left out (transformers reads both as absent).
class FieldWriter {
 public:
  explicit FieldWriter(nlohmann::json& out) : out_(out) {}
  template <typename T>
  void operator()(const char* key, const T& v) const { out_[key] = v; }
  void operator()(const char* key, const std::optional<int64_t>& v) const {
    if (v) out_[key] = *v;
  }
  void operator()(const char* key, const std::vector<int64_t>& v) const {
    if (!v.empty()) out_[key] = v;
  }
  template <typename E>
    requires std::is_enum_v<E>
  void operator()(const char* key, const E& v) const {
    out_[key] = std::string(config::to_string(v));
  }

 private:
  nlohmann::json& out_;
};

// The config's listed fields read from `json` over `defaults`.
template <typename Config>
Config read_fields(const HfConfig& json, Config defaults = Config{}) {
  Config::fields(defaults, FieldReader(json));
  return defaults;
}

// {"model_type": ..., "architectures": [...]} followed by the config's listed fields.
template <typename Config>
nlohmann::json write_fields(const Config& config, const std::string& model_type,
                            const std::string& architecture = {}) {
  nlohmann::json out = {{"model_type", model_type}};
  if (!architecture.empty()) out["architectures"] = {architecture};
  Config::fields(config, FieldWriter(out));
  return out;
}

}  // namespace vlm::models
