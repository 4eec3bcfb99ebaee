// The shared workspace of the real-workflow e2e tests: tiny HF model folders, an img2dataset
// folder and a class folder made by tools/hf_tiny/make_tiny_hf.py, and the runs the README's
// "Real models and data" commands write there. Every command runs with the workspace as its
// working directory, so the shipped configs' relative paths (models/..., data/cc, runs) hold.
//
// Each step is one TEST (one ctest process). A step that needs an earlier step's run makes it
// first if it is not there yet (a marker file records each finished step), so any step runs alone:
//   ctest --test-dir build -R 'RealWorkflow.SmolLM_EvalRetrieval' --output-on-failure
// The workspace is keyed by the vlm binary and the script (a rebuild starts a fresh one) and locked
// for a whole step, so steps started in parallel (ctest -j) wait for each other. VLM_WORKFLOW_DIR
// overrides its place (default: beside the test binary, build/tests/real_workflow/<key>).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace vlm::test::workflow {

namespace fs = std::filesystem;

struct Result {
  int status = -1;     // exit status; -1 when killed by a signal or not started
  std::string output;  // stdout and stderr
  std::string command;
};

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::string tail(const std::string& text, size_t chars = 3000) {
  return text.size() <= chars ? text : "..." + text.substr(text.size() - chars);
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The last line of `output` that parses as a JSON object (the eval commands print one).
inline nlohmann::json last_json(const std::string& output) {
  std::istringstream in(output);
  std::string line;
  nlohmann::json found;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() != '{') continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) found = std::move(j);
  }
  return found;
}

// j[key] as an integer, or `fallback` when j is no object or has no such integer.
inline int64_t int_or(const nlohmann::json& j, const char* key, int64_t fallback = -1) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) return fallback;
  return j[key].get<int64_t>();
}

// True when some key anywhere in `j` equals one of `names`.
inline bool has_key(const nlohmann::json& j, const std::vector<std::string>& names) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      for (const auto& n : names)
        if (k == n) return true;
      if (has_key(v, names)) return true;
    }
  } else if (j.is_array()) {
    for (const auto& v : j)
      if (has_key(v, names)) return true;
  }
  return false;
}

class Workspace {
 public:
  // The workspace of this build, made (models and data) on first use. Holds its lock until
  // destroyed. Skips (returns false from ok()) when python3 is missing.
  Workspace() {
    dir_ = root_dir();
    fs::create_directories(dir_);
    lock_fd_ = ::open((dir_ + "/.lock").c_str(), O_CREAT | O_RDWR, 0644);
    if (lock_fd_ >= 0) ::flock(lock_fd_, LOCK_EX);
    if (std::system("command -v python3 >/dev/null 2>&1") != 0) {
      skip_reason_ = "python3 not found: tools/hf_tiny/make_tiny_hf.py needs it (scripts/setup.sh installs it)";
      return;
    }
    if (!done("made")) {
      const Result r = sh("python3 " + quote(std::string(VLM_SOURCE_DIR) + "/tools/hf_tiny/make_tiny_hf.py") + " .");
      if (r.status != 0) {
        setup_error_ = "make_tiny_hf.py failed:\n" + tail(r.output);
        return;
      }
      mark("made");
    }
  }
  ~Workspace() {
    if (lock_fd_ >= 0) {
      ::flock(lock_fd_, LOCK_UN);
      ::close(lock_fd_);
    }
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  const std::string& dir() const { return dir_; }
  std::string path(const std::string& rel) const { return dir_ + "/" + rel; }
  const std::string& skip_reason() const { return skip_reason_; }
  const std::string& setup_error() const { return setup_error_; }

  // Runs a shell command in the workspace (bounded by `timeout`), output captured.
  Result sh(const std::string& command, int timeout_s = 900) const {
    Result r;
    r.command = command;
    const std::string full = "cd " + quote(dir_) + " && timeout -k 10 " + std::to_string(timeout_s) + " " + command + " 2>&1";
    FILE* pipe = ::popen(full.c_str(), "r");
    if (pipe == nullptr) return r;
    std::array<char, 4096> buf{};
    size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
    const int raw = ::pclose(pipe);
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    return r;
  }

  // `vlm ARGS` in the workspace.
  Result vlm(const std::string& args, int timeout_s = 900) const {
    Result r = sh(quote(VLM_BINARY) + " " + args, timeout_s);
    r.command = "vlm " + args;
    return r;
  }

  bool done(const std::string& step) const { return fs::exists(path(".done-" + step)); }
  void mark(const std::string& step) const { std::ofstream(path(".done-" + step)) << "ok\n"; }

  // Runs `make` unless `step` is already done; records success. The error (empty when fine)
  // names the step and its command's output, for the steps that need it.
  std::string ensure(const std::string& step, const std::function<Result()>& make) const {
    if (done(step)) return {};
    const Result r = make();
    if (r.status == 0) {
      mark(step);
      return {};
    }
    return "step '" + step + "' failed (exit " + std::to_string(r.status) + "): " + r.command + "\n" + tail(r.output);
  }

 private:
  static std::string root_dir() {
    if (const char* env = std::getenv("VLM_WORKFLOW_DIR"); env != nullptr && *env != '\0') return env;
    // Keyed by the binary and the script: a rebuild or a new script starts afresh.
    auto stamp = [](const std::string& p) {
      struct stat st {};
      if (::stat(p.c_str(), &st) != 0) return std::string("0");
      return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "." +
             std::to_string(st.st_size);
    };
    const std::string key = stamp(VLM_BINARY) + "|" + stamp(std::string(VLM_SOURCE_DIR) + "/tools/hf_tiny/make_tiny_hf.py") +
                            "|" + stamp(std::string(VLM_SOURCE_DIR) + "/tools/hf_tiny/jpeg_encode.py");
    char name[32];
    std::snprintf(name, sizeof(name), "%016zx", std::hash<std::string>{}(key));
    const fs::path base = fs::read_symlink("/proc/self/exe").parent_path() / "real_workflow";
    std::error_code ec;
    if (fs::is_directory(base, ec)) {  // earlier builds' workspaces
      for (const auto& e : fs::directory_iterator(base, ec))
        if (e.path().filename() != name) fs::remove_all(e.path(), ec);
    }
    return (base / name).string();
  }

  std::string dir_;
  int lock_fd_ = -1;
  std::string skip_reason_, setup_error_;
};

// A child process started by spawn(), reaped at most once.
struct Child {
  pid_t pid = -1;
  bool exited = false;
  int status = 0;  // the wait status once exited

  bool poll() {
    if (!exited && pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
    return exited;
  }
  // Waits up to `limit`, then kills it; true when it exited by itself.
  bool wait(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!poll()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        exited = true;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }
  int exit_code() const { return exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
};

// Starts `argv` in `cwd` with stdout and stderr in `log`.
inline Child spawn(const std::string& cwd, const std::vector<std::string>& argv, const std::string& log) {
  Child c;
  c.pid = ::fork();
  if (c.pid == 0) {
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (std::freopen(log.c_str(), "w", stdout) == nullptr) ::_exit(126);
    ::dup2(::fileno(stdout), 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return c;
}

// Waits until `path` exists, the child exits or `limit` passes; true when `path` exists.
inline bool wait_for_path(const std::string& path, Child& child, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(path)) return true;
    if (child.poll()) return fs::exists(path);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace vlm::test::workflow
