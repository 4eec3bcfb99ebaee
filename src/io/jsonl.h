// JSON Lines reading, one reader for every .jsonl the project reads back (metrics.jsonl, caption
// predictions and references, the demo's captions): blank lines skipped, each other line one JSON
// object, errors naming PATH:LINE. nlohmann parses; the line handling is the few lines below.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <string>

namespace vlm::io {

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
