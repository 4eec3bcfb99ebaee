// `vlm serve --model RUN [...]`: the trained model behind an OpenAI-compatible HTTP API (chat
// with images, embeddings, search), a Prometheus /metrics and a web page; see src/serve/.
// SIGTERM or SIGINT stops accepting, finishes the requests in flight and exits 0.
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "cli/command.h"
#include "core/error.h"
#include "core/log.h"
#include "io/atomic_file.h"
#include "serve/server.h"

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) { g_stop = true; }

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

int64_t positive(const vlm::cli::Args& args, const std::string& flag, int64_t fallback) {
  const int64_t v = args.get_int(flag, fallback);
  if (v < 1) throw vlm::UsageError(flag + " must be at least 1, got " + std::to_string(v));
  return v;
}

int run_serve(const vlm::cli::Args& args) {
  vlm::serve::ServerOptions o;
  o.model = args.get("--model");
  o.embed_model = args.get("--embed-model");
  o.host = args.get("--host", o.host);
  o.port = static_cast<int>(args.get_int("--port", o.port));
  if (o.port < 0 || o.port > 65535) throw vlm::UsageError("--port must be in [0, 65535] (0 = any free port)");
  if (args.has("--api-key") && args.has("--api-key-file")) throw vlm::UsageError("give --api-key or --api-key-file, not both");
  o.api_key = args.get("--api-key");
  if (auto file = args.maybe("--api-key-file")) {
    o.api_key = trimmed(vlm::io::read_file(*file));
    if (o.api_key.empty()) throw vlm::FileError(*file, "is empty", "write the API key into it");
  }
  o.parallel = static_cast<int>(positive(args, "--parallel", o.parallel));
  o.max_queue = static_cast<int>(args.get_int("--max-queue", o.max_queue));
  if (o.max_queue < 0) throw vlm::UsageError("--max-queue must be >= 0");
  o.max_body_bytes = static_cast<size_t>(positive(args, "--max-body-bytes", static_cast<int64_t>(o.max_body_bytes)));
  o.max_images = positive(args, "--max-images", o.max_images);
  o.images.max_pixels = positive(args, "--max-image-pixels", o.images.max_pixels);
  o.images.media_dir = args.get("--media-dir");
  o.images.allow_remote = args.has("--allow-remote-images");
  o.index = args.get("--index");
  o.index_cache = args.get("--index-cache", o.index_cache);
  o.model_name = args.get("--name");

  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
  vlm::serve::Server server(o);
  const int port = server.bind();
  server.start();
  // One line a script can wait for: the port is open (/health answers 503 until the model is in).
  std::cout << "vlm serve: listening on http://" << o.host << ":" << port << "/" << std::endl;
  try {
    server.load();
  } catch (...) {
    server.stop();
    throw;
  }
  std::cout << "vlm serve: ready" << std::endl;
  while (!g_stop && server.running()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  vlm::log::info("vlm serve: stopping (finishing the requests in flight)");
  server.stop();
  std::cout << "vlm serve: stopped" << std::endl;
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "serve",
    .usage = "--model RUN [--host H] [--port P] [--api-key KEY | --api-key-file F] [--parallel N] [--index DATA] ...",
    .summary = "serve a model over HTTP: OpenAI-compatible chat with images, embeddings, search, a web page",
    .flags = {{.name = "--model", .value_name = "RUN",
               .help = "a stage-2 run, export or checkpoint (chat); a stage-1 one gives embeddings only", .required = true},
              {"--embed-model", "RUN", "a stage-1 run or export for /v1/embeddings and /v1/search"},
              {"--host", "ADDR", "address to listen on (default 127.0.0.1: this machine only)"},
              {"--port", "P", "port (default 8080; 0 = any free port, printed at start)"},
              {"--api-key", "KEY", "require 'Authorization: Bearer KEY' on /v1/* and /metrics"},
              {"--api-key-file", "F", "the same, the key read from a file"},
              {"--parallel", "N", "sequences decoded together in one batch (default 4)"},
              {"--max-queue", "N", "requests waiting beyond --parallel before 429 (default 64)"},
              {"--max-body-bytes", "N", "largest request body, else 413 (default 20971520)"},
              {"--max-images", "N", "images per request (default 4)"},
              {"--max-image-pixels", "N", "width x height per image, checked before decoding (default 16777216)"},
              {"--media-dir", "DIR", "allow file:// image URLs under DIR (and nowhere else)"},
              {"--allow-remote-images", "", "fetch http(s):// image URLs (10 s and 20 MiB per image; off by default)"},
              {"--index", "DATA", "a folder or dataset of images to search (embedded once, cached)"},
              {"--index-cache", "DIR", "where the index embeddings are cached (default .cache/vlm-serve)"},
              {"--name", "ID", "the model id /v1/models reports (default: the run's name)"}},
    .run = run_serve,
});

}  // namespace
