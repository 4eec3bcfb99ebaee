// What the `vlm serve` tests share: a tiny stage-1 run, a tiny LM and a stage-2 run trained once
// for the whole test program (a few steps each, ~1 min on 2 cores), a `vlm serve` child process on
// a free loopback port, and a small HTTP/SSE client (cpp-httplib's, as the server's).
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"
#include "tiny_stage1.h"

namespace vlm::test {

using json = nlohmann::json;

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The tiny runs, trained once per build of `vlm` (ctest runs every test in its own process):
// kept under BUILD/test-output/serve-models with a marker naming the binary's mtime, under a lock.
struct TinyModels {
  struct Dir {
    std::string p;
    const std::string& path() const { return p; }
  } dir;
  train::DemoData data;
  std::string stage1, stage2;  // run directories
  std::string error;           // set when training failed

  TinyModels() {
    namespace fs = std::filesystem;
    dir.p = (fs::path(VLM_BINARY).parent_path() / "test-output" / "serve-models").string();
    fs::create_directories(dir.p);
    const int lock = ::open((dir.p + ".lock").c_str(), O_CREAT | O_RDWR, 0644);
    ::flock(lock, LOCK_EX);
    const std::string stamp = std::to_string(fs::last_write_time(VLM_BINARY).time_since_epoch().count());
    const bool fresh = read_all(dir.p + "/.stamp") == stamp;
    stage1 = dir.path() + "/runs/s1";
    stage2 = dir.path() + "/runs/s2";
    if (!fresh) {
      for (const auto& entry : fs::directory_iterator(dir.p)) fs::remove_all(entry.path());
    }
    data = make_tiny_demo_data(dir.path());
    if (!fresh) {
      build();
      if (error.empty()) std::ofstream(dir.p + "/.stamp") << stamp;
    }
    ::flock(lock, LOCK_UN);
    ::close(lock);
  }

  void build() {
    const std::string s = tiny_stage1_sections(dir.path(), data) +
                          "schedule: {log_every: 1, eval_every: 0, eval_batches: 1, save_every: 0, sample_captions: 0}\n"
                          "prompt: {max_target_tokens: 16}\n";
    const std::string lm_sizes =
        "hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, intermediate_size: 64";
    train("s1", s + "train: {stage: stage1, steps: 3, batch_size: 8, warmup_steps: 1, precision: fp32}\n");
    train("lm", s + "lm: {path: " + data.tokenizer_dir + ", " + lm_sizes +
                    "}\ntrain: {stage: lm, steps: 2, batch_size: 8, warmup_steps: 1, precision: fp32}\n");
    train("s2", s + "lm: {path: " + dir.path() + "/runs/lm/export, lora_enabled: false, full_finetune: true}\n" +
                    "train: {stage: stage2, steps: 3, batch_size: 4, lr: 1.0e-3, lr_head: 2.0e-3, warmup_steps: 1,"
                    " precision: fp32}\ngeneration: {max_new_tokens: 12, temperature: 0}\n");
  }

  void train(const std::string& name, const std::string& yaml) {
    if (!error.empty()) return;
    const std::string path = dir.path() + "/" + name + ".yaml";
    std::ofstream(path) << yaml;
    const auto r = run_vlm("train --config " + path + " --set run.name=" + name);
    if (r.status != 0) error = "training " + name + " failed:\n" + r.output;
  }

  std::string image(int i) const {
    char name[16];
    std::snprintf(name, sizeof(name), "%05d.png", i);
    return data.eval_dir + "/" + name;
  }
};

inline std::string base64(const std::string& bytes) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 2]);
    out += a[(n >> 18) & 63];
    out += a[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? a[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? a[n & 63] : '=';
  }
  return out;
}

inline std::string data_url(const std::string& png_path) { return "data:image/png;base64," + base64(read_all(png_path)); }

// `vlm serve ARGS --port 0` as a child; the port read from its first line; stopped by SIGTERM.
class ServeProcess {
 public:
  ServeProcess(const std::string& work_dir, const std::vector<std::string>& args) {
    log_ = work_dir + "/serve-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++) + ".log";
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<std::string> all = {VLM_BINARY, "serve", "--port", "0"};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      if (!std::freopen(log_.c_str(), "w", stdout) || !std::freopen(log_.c_str(), "a", stderr)) ::_exit(126);
      ::execv(VLM_BINARY, argv.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    std::smatch m;
    const std::regex listening("listening on http://127\\.0\\.0\\.1:(\\d+)/");
    while (std::chrono::steady_clock::now() < deadline && port_ == 0) {
      const std::string text = read_all(log_);
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1].str());
      if (exited()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ServeProcess() { stop(); }

  // Waits for /health to say 200 (the model loaded).
  bool wait_ready(int seconds = 120) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (port_ != 0 && std::chrono::steady_clock::now() < deadline && !exited()) {
      auto r = client().Get("/health");
      if (r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  // SIGTERM, then the exit status (-1 if it had to be killed after 60 s).
  int stop() {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 600; ++i) {
      int raw = 0;
      if (::waitpid(pid_, &raw, WNOHANG) == pid_) {
        status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
        pid_ = 0;
        return status_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
    return -1;
  }
  bool exited() {
    if (pid_ <= 0) return true;
    int raw = 0;
    if (::waitpid(pid_, &raw, WNOHANG) == pid_) {
      status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
      pid_ = 0;
      return true;
    }
    return false;
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const { return read_all(log_); }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120);
    c.set_connection_timeout(10);
    return c;
  }
  // Resident memory of the server in kB (VmRSS), 0 when unknown.
  int64_t rss_kb() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
    }
    return 0;
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  int status_ = -1;
};

struct Reply {
  int status = 0;
  json body;
};

inline Reply post_json(const ServeProcess& server, const std::string& path, const std::string& body,
                       const httplib::Headers& headers = {}) {
  auto r = server.client().Post(path.c_str(), headers, body, "application/json");
  if (!r) return {0, json()};
  return {r->status, json::parse(r->body, nullptr, /*allow_exceptions=*/false)};
}

// A streamed chat reply: the JSON of each `data:` event, whether [DONE] came, the text.
struct StreamReply {
  int status = 0;
  std::vector<json> chunks;
  bool done = false;
  std::string text;
  std::string raw;
};

// POSTs a streaming chat request and parses its SSE events; `stop_after` > 0 disconnects after
// that many chunks.
// `on_chunk` is called after each event.
inline StreamReply post_stream(const ServeProcess& server, const json& body, size_t stop_after = 0,
                               const httplib::Headers& headers = {}, std::function<void()> on_chunk = {}) {
  httplib::Client c = server.client();
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.headers = headers;
  req.set_header("Content-Type", "application/json");
  req.body = body.dump();
  StreamReply out;
  std::string buffer;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buffer.append(data, n);
    out.raw.append(data, n);
    for (size_t at; (at = buffer.find("\n\n")) != std::string::npos;) {
      const std::string event = buffer.substr(0, at);
      buffer.erase(0, at + 2);
      if (event.rfind("data: ", 0) != 0) continue;
      const std::string payload = event.substr(6);
      if (payload == "[DONE]") {
        out.done = true;
        continue;
      }
      out.chunks.push_back(json::parse(payload, nullptr, false));
      const json& ch = out.chunks.back();
      if (ch.contains("choices") && !ch["choices"].empty() && ch["choices"][0]["delta"].contains("content")) {
        out.text += ch["choices"][0]["delta"]["content"].get<std::string>();
      }
      if (on_chunk) on_chunk();
      if (stop_after > 0 && out.chunks.size() >= stop_after) return false;
    }
    return true;
  };
  auto res = c.send(req);
  out.status = res ? res->status : 0;
  return out;
}

inline json chat_body(const std::string& image_url, const std::string& prompt, int max_tokens, bool stream = false) {
  json content = json::array();
  if (!prompt.empty()) content.push_back({{"type", "text"}, {"text", prompt}});
  if (!image_url.empty()) content.push_back({{"type", "image_url"}, {"image_url", {{"url", image_url}}}});
  return {{"model", "tiny"},
          {"messages", json::array({{{"role", "user"}, {"content", content}}})},
          {"max_tokens", max_tokens},
          {"temperature", 0},
          {"stream", stream}};
}

}  // namespace vlm::test
