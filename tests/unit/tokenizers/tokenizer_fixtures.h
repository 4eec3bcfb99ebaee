// Fixture access for the tokenizer tests: the committed folders under tests/fixtures/tokenizers,
// Qwen3's gzip-compressed tokenizer.json unpacked once per process, and Llama 3's file when
// scripts/setup.d/tokenizers.sh has fetched it.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace vlm::test {

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// A folder with Qwen3's tokenizer.json and tokenizer_config.json (unpacked with gzip).
inline const std::string& qwen3_dir() {
  static TempDir* dir = new TempDir();  // lives for the whole process
  static const std::string path = [] {
    const std::string src = fixture("tokenizers/qwen3");
    const std::string cmd = "gzip -dc '" + src + "/tokenizer.json.gz' > '" + dir->path() + "/tokenizer.json'";
    if (std::system(cmd.c_str()) != 0) std::abort();
    std::filesystem::copy_file(src + "/tokenizer_config.json", dir->path() + "/tokenizer_config.json");
    return dir->path();
  }();
  return path;
}

// The byte offsets HF's npm binding reports, as make_fixtures.mjs stores them: HF converts byte
// offsets to code-point offsets (a byte inside a character maps to that character; an end that
// is not a character start maps to the character before it, plus one) and the fixture script
// converts those back to bytes.
inline std::vector<std::vector<size_t>> as_hf_reports(const std::string& text,
                                                      const std::vector<std::pair<size_t, size_t>>& offsets) {
  std::vector<size_t> char_of(text.size() + 1, 0), byte_of;
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++chars) {
    const auto b = static_cast<unsigned char>(text[i]);
    const size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    byte_of.push_back(i);
    for (size_t k = 0; k < n && i + k < text.size(); ++k) char_of[i + k] = chars;
    i += n;
  }
  byte_of.push_back(text.size());
  std::vector<std::vector<size_t>> out;
  for (const auto& [s, e] : offsets) {
    if (s >= text.size()) {  // not convertible: HF leaves the offsets as they are
      out.push_back({s, e});
      continue;
    }
    const size_t cs = char_of[s];
    const size_t ce = e < text.size() ? char_of[e] : (e == 0 ? cs + 1 : char_of[e - 1] + 1);
    out.push_back({byte_of[cs], byte_of[std::min(ce, chars)]});
  }
  return out;
}

inline std::string llama3_dir() { return std::string(VLM_SOURCE_DIR) + "/.cache/tokenizers/llama3"; }
inline bool have_llama3() { return std::filesystem::exists(llama3_dir() + "/tokenizer.json"); }

}  // namespace vlm::test
