// Shared test helpers: temporary directories, fixture paths, running the CLI.
#pragma once

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace vlm::test {

// A fresh directory under $TMPDIR, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "vlm-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string fixture(const std::string& relative) { return std::string(VLM_FIXTURES_DIR) + "/" + relative; }

struct RunResult {
  int status = -1;     // exit status
  std::string output;  // stdout (stderr too when merge_stderr)
};

// Runs `vlm ARGS` through the shell and captures its output.
inline RunResult run_vlm(const std::string& args, bool merge_stderr = true) {
  const std::string cmd = std::string(VLM_BINARY) + " " + args + (merge_stderr ? " 2>&1" : "");
  RunResult result;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  const int raw = ::pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return result;
}

}  // namespace vlm::test
