// Reading JSON files back, one reader per form: whole .json files (manifests, exports' records,
// metrics files), errors naming the file; and JSON Lines (metrics.jsonl, caption predictions and
// references, the demo's captions): blank lines skipped, each other line one JSON object, errors
// naming PATH:LINE. nlohmann parses; the file and line handling is the few lines in jsonl.cpp.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <string>

namespace vlm::io {

// The JSON document in PATH; FileError naming PATH when it is missing or not valid JSON.
nlohmann::json read_json_file(const std::string& path);

enum class JsonlTail {
  kStrict,         // every line must parse
  kSkipTornLast,   // a last line with no newline that does not parse is a write cut short (a killed
                   // writer that appends and flushes whole lines) and is skipped
};

// Calls fn(object, "PATH:LINE") for each non-blank line in file order. A missing file, a line that
// is not valid JSON or not an object is a FileError naming PATH:LINE.
void for_each_jsonl_object(const std::string& path,
                           const std::function<void(const nlohmann::json& object, const std::string& where)>& fn,
                           JsonlTail tail = JsonlTail::kStrict);

}  // namespace vlm::io
