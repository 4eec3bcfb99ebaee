// Reading Hugging Face config.json files: typed getters with transformers' defaults for absent
// keys, and errors that name the file and the key when a value has the wrong type.
// Every model config (ViTConfig, BertConfig, ...) is filled through this one reader.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vlm::models {

class HfConfig {
 public:
  // `path` is a config.json file or a folder holding one; throws FileError if unreadable or not a JSON object.
  static HfConfig load(const std::string& path);
  // Wraps an already parsed object; `origin` names it in errors (e.g. "config.json:text_config").
  static HfConfig from_json(const nlohmann::json& object, const std::string& origin);

  HfConfig(const HfConfig& other);
  HfConfig& operator=(const HfConfig& other);
  HfConfig(HfConfig&&) noexcept;
  HfConfig& operator=(HfConfig&&) noexcept;
  ~HfConfig();

  const std::string& origin() const { return origin_; }
  const nlohmann::json& json() const { return *json_; }
  // True when the key is present and not null (HF writes absent optionals as null).
  bool has(const std::string& key) const;

  // Absent or null -> the default; present with another type -> FileError naming file and key.
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;  // integers are accepted
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::optional<int64_t> get_optional_int(const std::string& key) const;
  // Absent or null -> empty; present but not an array of integers -> FileError.
  std::vector<int64_t> get_int_list(const std::string& key) const;
  // Required: absent -> FileError.
  std::string require_string(const std::string& key) const;
  // A nested object such as "text_config"; throws FileError if absent or not an object.
  HfConfig sub(const std::string& key) const;

 private:
  HfConfig(std::shared_ptr<const nlohmann::json> json, std::string origin);
  [[noreturn]] void wrong_type(const std::string& key, const char* expected) const;

  std::shared_ptr<const nlohmann::json> json_;
  std::string origin_;
};

// Path of config.json for a file-or-folder argument.
std::string config_json_path(const std::string& path);

// Writes a JSON object as an indented config.json, atomically.
void write_config_json(const std::string& path, const nlohmann::json& object);

}  // namespace vlm::models
