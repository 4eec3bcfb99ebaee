// `vlm serve` throughput: requests/s, generated tokens/s and time to first token at concurrency
// 1, 4 and 16 (streaming clients on loopback, cpp-httplib's client), against running `vlm caption`
// once per request (a process and a model load each). One JSON line per measurement, with the
// server's CPU seconds (utime + stime from /proc) so numbers from a loaded machine compare.
// Usage: bench_serve_throughput --model RUN --image IMG [--requests N] [--max-tokens N] [--vlm BIN]
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string base64(const std::string& bytes) {
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

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = all.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct Result {
  int tokens = 0;
  double ttft = 0;
  bool ok = false;
};

Result stream_one(int port, const std::string& body) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(600);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.set_header("Content-Type", "application/json");
  req.body = body;
  Result r;
  const auto t0 = Clock::now();
  std::string buffer;
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    buffer.append(d, n);
    static const std::regex first_text("\"delta\":\\{\"content\":\"[^\"]");  // not the role chunk's ""
    if (r.ttft == 0 && std::regex_search(buffer, first_text)) {
      r.ttft = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    return true;
  };
  auto res = c.send(req);
  std::smatch m;
  if (res && res->status == 200 && std::regex_search(buffer, m, std::regex("\"completion_tokens\":(\\d+)"))) {
    r.tokens = std::stoi(m[1].str());
    r.ok = true;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, image, vlm = (fs::path(argv[0]).parent_path() / ".." / "vlm").string();
  int requests = 32, max_tokens = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") model = v;
    else if (k == "--image") image = v;
    else if (k == "--requests") requests = std::stoi(v);
    else if (k == "--max-tokens") max_tokens = std::stoi(v);
    else if (k == "--vlm") vlm = v;
  }
  if (model.empty() || image.empty()) {
    std::cerr << "usage: bench_serve_throughput --model RUN --image IMG [--requests N] [--max-tokens N] [--vlm BIN]\n";
    return 2;
  }
  const std::string log = (fs::temp_directory_path() / ("bench-serve-" + std::to_string(::getpid()) + ".log")).string();
  const pid_t server = ::fork();
  if (server == 0) {
    if (!std::freopen(log.c_str(), "w", stdout) || !std::freopen(log.c_str(), "a", stderr)) ::_exit(126);
    ::execl(vlm.c_str(), vlm.c_str(), "serve", "--model", model.c_str(), "--port", "0", "--parallel", "16",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int port = 0;
  std::smatch m;
  for (int i = 0; i < 1200 && port == 0; ++i) {
    const std::string text = read_all(log);
    if (std::regex_search(text, m, std::regex("listening on http://127\\.0\\.0\\.1:(\\d+)/"))) port = std::stoi(m[1].str());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (int i = 0; i < 1200 && port != 0; ++i) {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get("/health");
    if (r && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (port == 0) {
    std::cerr << "the server did not start:\n" << read_all(log);
    return 1;
  }
  const json body = {{"messages", {{{"role", "user"},
                                    {"content", {{{"type", "image_url"},
                                                  {"image_url", {{"url", "data:image/png;base64," + base64(read_all(image))}}}}}}}}},
                     {"max_tokens", max_tokens},
                     {"temperature", 0},
                     {"stream", true},
                     {"stream_options", {{"include_usage", true}}}};
  stream_one(port, body.dump());  // warm-up
  int tokens_per_request = 0;
  for (int concurrency : {1, 4, 16}) {
    const int n = std::max(requests, concurrency);
    std::atomic<int> next{0};
    const double cpu0 = cpu_seconds(server);
    const auto t0 = Clock::now();
    std::vector<std::future<std::vector<Result>>> clients;
    for (int c = 0; c < concurrency; ++c) {
      clients.push_back(std::async(std::launch::async, [&] {
        std::vector<Result> out;
        while (next++ < n) out.push_back(stream_one(port, body.dump()));
        return out;
      }));
    }
    std::vector<Result> all;
    for (auto& f : clients) {
      auto part = f.get();
      all.insert(all.end(), part.begin(), part.end());
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu = cpu_seconds(server) - cpu0;
    int tokens = 0, failed = 0;
    std::vector<double> ttft;
    for (const auto& r : all) {
      tokens += r.tokens;
      failed += r.ok ? 0 : 1;
      ttft.push_back(r.ttft);
    }
    tokens_per_request = all.empty() ? 0 : tokens / static_cast<int>(all.size());
    std::sort(ttft.begin(), ttft.end());
    std::cout << json{{"what", "serve_throughput"}, {"concurrency", concurrency}, {"requests", all.size()},
                      {"failed", failed}, {"seconds", seconds}, {"requests_per_s", all.size() / seconds},
                      {"tokens", tokens}, {"tokens_per_s", tokens / seconds}, {"server_cpu_s", cpu},
                      {"tokens_per_cpu_s", cpu > 0 ? tokens / cpu : 0.0}, {"ttft_p50_s", ttft[ttft.size() / 2]},
                      {"ttft_p90_s", ttft[ttft.size() * 9 / 10]}}
                     .dump()
              << std::endl;
  }
  ::kill(server, SIGTERM);
  ::waitpid(server, nullptr, 0);
  // The baseline: one `vlm caption` process per request.
  const int caption_runs = std::min(requests, 8);
  const auto t0 = Clock::now();
  for (int i = 0; i < caption_runs; ++i) {
    const std::string cmd = vlm + " caption --model " + model + " " + image + " --max-new-tokens " +
                            std::to_string(max_tokens) + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::cerr << "vlm caption failed: " << cmd << "\n";
      return 1;
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << json{{"what", "caption_per_request"}, {"requests", caption_runs}, {"seconds", seconds},
                    {"requests_per_s", caption_runs / seconds},
                    {"tokens_per_s", caption_runs * tokens_per_request / seconds}}
                   .dump()
            << std::endl;
  return 0;
}
