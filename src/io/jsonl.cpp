// JSON files and JSON Lines read back (see jsonl.h).
#include "io/jsonl.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/atomic_file.h"

namespace vlm::io {

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path, str("not valid JSON (", e.what(), ")"));
  }
}

void for_each_jsonl_object(const std::string& path,
                           const std::function<void(const nlohmann::json& object, const std::string& where)>& fn,
                           JsonlTail tail) {
  const std::string text = read_file(path);
  size_t begin = 0;
  for (int64_t number = 1; begin < text.size(); ++number) {
    const size_t end = text.find('\n', begin);
    const bool last_unterminated = end == std::string::npos;
    const std::string line = text.substr(begin, last_unterminated ? std::string::npos : end - begin);
    begin = last_unterminated ? text.size() : end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = str(path, ":", number);
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      if (last_unterminated && tail == JsonlTail::kSkipTornLast) return;
      throw FileError(where, str("not valid JSON (", e.what(), ")"));
    }
    if (!object.is_object()) throw FileError(where, "expected a JSON object");
    fn(object, where);
  }
}

}  // namespace vlm::io
