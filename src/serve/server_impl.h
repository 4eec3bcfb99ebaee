// The state the routes of `vlm serve` share (server.cpp, chat_routes.cpp, embedding_routes.cpp).
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "serve/api_error.h"
#include "serve/metrics.h"
#include "serve/model_host.h"
#include "serve/scheduler.h"
#include "serve/search_index.h"
#include "serve/server.h"

namespace vlm::serve {

struct Server::Impl {
  ServerOptions options;
  httplib::Server http;
  std::thread listener;
  std::atomic<bool> ready{false};
  std::unique_ptr<ModelHost> host;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<SearchIndex> index;
  Metrics metrics;
  std::string model_name;
  int64_t started = 0;  // unix seconds
  std::atomic<uint64_t> next_id{1};

  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  // Wraps a route: 503 until loaded, ApiError -> its status and object, anything else -> 500.
  httplib::Server::Handler guarded(Handler handler, bool needs_model = true);
  static void reply(httplib::Response& res, int status, const nlohmann::json& body);
  static nlohmann::json parse_body(const httplib::Request& req);
  void add_chat_routes();
  void add_embedding_routes();
};

}  // namespace vlm::serve
