// Token <-> id tables shared by the BPE, WordPiece and WordLevel models, with string_view lookup
// (no allocation per query) and validation of the tokenizer.json "vocab" object.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace vlm::tokenizers {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class Vocab {
 public:
  // From {"token": id, ...}; ids must be non-negative integers below 2^31.
  static Vocab from_json(const nlohmann::json& j, const std::string& where);
  void add(const std::string& token, uint32_t id);
  std::optional<uint32_t> find(std::string_view token) const {
    const auto it = map_.find(token);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  const std::string* token(uint32_t id) const {
    return id < by_id_.size() && has_id_[id] ? &by_id_[id] : nullptr;
  }
  size_t size() const { return map_.size(); }

 private:
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> map_;
  std::vector<std::string> by_id_;
  std::vector<bool> has_id_;
};

}  // namespace vlm::tokenizers
