// `vlm serve`'s HTTP server on cpp-httplib (Debian's libcpp-httplib-dev 0.11): a thread-per-
// connection server is what a CPU model server needs (the model, not the socket layer, is the
// bottleneck; llama.cpp's llama-server is built on the same library), it speaks chunked transfer
// for Server-Sent Events and is one packaged dependency; Boost.Beast would bring asio's async
// machinery and much more code for the same routes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "serve/image_input.h"

namespace vlm::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0 = any free port
  std::string api_key;                   // empty: no key asked (loopback use)
  int parallel = 4;                      // sequences decoded together
  int max_queue = 64;                    // requests waiting beyond them; more get 429
  size_t max_body_bytes = 20u << 20;     // larger bodies get 413
  int64_t max_images = 4;                // images per request
  int64_t max_embedding_inputs = 256;    // inputs per /v1/embeddings request
  ImageLimits images;                    // pixels per image, --media-dir
  std::string model, embed_model;        // --model, --embed-model
  std::string index, index_cache = ".cache/vlm-serve";  // --index, --index-cache
  std::string model_name;                // the id /v1/models reports; empty = the run's name
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  int bind();        // binds the socket (port 0: any); returns the port
  void start();      // accepts connections on a thread; /health says 503 until load() is done
  void load();       // loads the model (and the index), then serves; throws when it cannot
  void stop();       // stops accepting, finishes the requests in flight, stops decoding
  bool running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vlm::serve
