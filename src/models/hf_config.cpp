// HfConfig: typed access to a Hugging Face config.json (see hf_config.h).
#include "models/hf_config.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/atomic_file.h"

namespace vlm::models {

std::string config_json_path(const std::string& path) {
  if (std::filesystem::is_directory(path)) return (std::filesystem::path(path) / "config.json").string();
  return path;
}

HfConfig::HfConfig(std::shared_ptr<const nlohmann::json> json, std::string origin)
    : json_(std::move(json)), origin_(std::move(origin)) {}
HfConfig::HfConfig(const HfConfig& other) = default;
HfConfig& HfConfig::operator=(const HfConfig& other) = default;
HfConfig::HfConfig(HfConfig&&) noexcept = default;
HfConfig& HfConfig::operator=(HfConfig&&) noexcept = default;
HfConfig::~HfConfig() = default;

HfConfig HfConfig::load(const std::string& path) {
  const std::string file = config_json_path(path);
  if (!std::filesystem::exists(file))
    throw FileError(file, "no such file", "a model folder needs the config.json that came with its weights");
  const std::string text = io::read_file(file);
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw FileError(file, str("not valid JSON: ", e.what()));
  }
  if (!parsed.is_object()) throw FileError(file, "expected a JSON object at the top level");
  return HfConfig(std::make_shared<const nlohmann::json>(std::move(parsed)), file);
}

HfConfig HfConfig::from_json(const nlohmann::json& object, const std::string& origin) {
  if (!object.is_object()) throw FileError(origin, "expected a JSON object");
  return HfConfig(std::make_shared<const nlohmann::json>(object), origin);
}

bool HfConfig::has(const std::string& key) const {
  auto it = json_->find(key);
  return it != json_->end() && !it->is_null();
}

void HfConfig::wrong_type(const std::string& key, const char* expected) const {
  throw FileError(origin_, str("key '", key, "': expected ", expected, ", found ", json_->at(key).dump()),
                  "fix the value in config.json");
}

int64_t HfConfig::get_int(const std::string& key, int64_t fallback) const {
  if (!has(key)) return fallback;
  const auto& v = json_->at(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  // 2.0 is accepted as 2 (some exporters write floats); 2.5 is not.
  if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
    return static_cast<int64_t>(v.get<double>());
  wrong_type(key, "an integer");
}

std::optional<int64_t> HfConfig::get_optional_int(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return get_int(key, 0);
}

std::vector<int64_t> HfConfig::get_int_list(const std::string& key) const {
  if (!has(key)) return {};
  const auto& v = json_->at(key);
  if (!v.is_array()) wrong_type(key, "an array of integers");
  std::vector<int64_t> out;
  for (const auto& e : v) {
    if (!e.is_number_integer()) wrong_type(key, "an array of integers");
    out.push_back(e.get<int64_t>());
  }
  return out;
}

double HfConfig::get_double(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const auto& v = json_->at(key);
  if (!v.is_number()) wrong_type(key, "a number");
  return v.get<double>();
}

bool HfConfig::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const auto& v = json_->at(key);
  if (!v.is_boolean()) wrong_type(key, "true or false");
  return v.get<bool>();
}

std::string HfConfig::get_string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const auto& v = json_->at(key);
  if (!v.is_string()) wrong_type(key, "a string");
  return v.get<std::string>();
}

std::string HfConfig::require_string(const std::string& key) const {
  if (!has(key)) throw FileError(origin_, str("missing key '", key, "'"));
  return get_string(key, "");
}

HfConfig HfConfig::sub(const std::string& key) const {
  if (!has(key)) throw FileError(origin_, str("missing key '", key, "'"));
  const auto& v = json_->at(key);
  if (!v.is_object()) wrong_type(key, "an object");
  return HfConfig(std::make_shared<const nlohmann::json>(v), origin_ + ":" + key);
}

void write_config_json(const std::string& path, const nlohmann::json& object) {
  io::write_file_atomic(path, object.dump(2) + "\n");
}

}  // namespace vlm::models
