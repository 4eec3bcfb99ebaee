// Fixture access for the tokenizer tests: the committed folders under tests/fixtures/tokenizers,
// Qwen3's gzip-compressed tokenizer.json unpacked once per process, and Llama 3's file when
// scripts/setup.d/tokenizers.sh has fetched it.
#pragma once

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

inline std::string llama3_dir() { return std::string(VLM_SOURCE_DIR) + "/.cache/tokenizers/llama3"; }
inline bool have_llama3() { return std::filesystem::exists(llama3_dir() + "/tokenizer.json"); }

}  // namespace vlm::test
