// `vlm serve`'s lifecycle and its small routes: /health, /v1/models, /metrics, the page at `/`,
// the API key check, the error object for httplib's own refusals (413, 404), request counting.
#include "serve/server.h"

#include <ctime>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "serve/server_impl.h"
#include "serve/web_page.h"

namespace fs = std::filesystem;

namespace vlm::serve {
namespace {

// Label values of vlm_requests_total: the route, never the raw path (bounded cardinality).
std::string endpoint_of(const std::string& path) {
  for (const char* known : {"/v1/chat/completions", "/v1/embeddings", "/v1/search", "/v1/models", "/health",
                            "/metrics"}) {
    if (path == known) return known;
  }
  if (path.rfind("/v1/index/images/", 0) == 0) return "/v1/index/images";
  if (path == "/") return "/";
  return "other";
}

std::string run_name(const std::string& model) {
  fs::path p = fs::absolute(model).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  if (p.filename() == "export") p = p.parent_path();
  return p.filename().string();
}

}  // namespace

httplib::Server::Handler Server::Impl::guarded(Handler handler, bool needs_model) {
  return [this, handler, needs_model](const httplib::Request& req, httplib::Response& res) {
    try {
      if (needs_model && !ready) throw ApiError(503, "the model is still loading; retry shortly", "", "model_loading", "server_error");
      handler(req, res);
    } catch (const ApiError& e) {
      reply(res, e.status, e.to_json());
    } catch (const std::exception& e) {
      log::warn("serve: ", req.method, " ", req.path, " failed: ", e.what());
      reply(res, 500, ApiError(500, e.what(), "", "internal_error", "server_error").to_json());
    }
  };
}

void Server::Impl::reply(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

nlohmann::json Server::Impl::parse_body(const httplib::Request& req) {
  try {
    return nlohmann::json::parse(req.body);
  } catch (const nlohmann::json::parse_error& e) {
    throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what(), "", "invalid_json");
  }
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.options = std::move(options);
  s.model_name = s.options.model_name.empty() ? run_name(s.options.model) : s.options.model_name;
  s.started = static_cast<int64_t>(std::time(nullptr));
  const int threads = s.options.parallel + s.options.max_queue + 8;
  s.http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.http.set_payload_max_length(s.options.max_body_bytes);
  s.http.set_keep_alive_timeout(2);
  s.http.set_read_timeout(30);
  s.http.set_write_timeout(30);

  s.http.set_pre_routing_handler([&s](const httplib::Request& req, httplib::Response& res) {
    const bool protected_path = req.path.rfind("/v1/", 0) == 0 || req.path == "/metrics";
    if (s.options.api_key.empty() || !protected_path) return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + s.options.api_key) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    Impl::reply(res, 401,
                ApiError(401, "missing or wrong API key: send 'Authorization: Bearer KEY'", "", "invalid_api_key")
                    .to_json());
    return httplib::Server::HandlerResponse::Handled;
  });
  s.http.set_error_handler(httplib::Server::HandlerWithResponse([&s](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // our own error object
    std::string message = "no such route: " + req.method + " " + req.path, code = "not_found";
    if (res.status == 413) {
      message = str("the request body is larger than the limit of ", s.options.max_body_bytes, " bytes (--max-body-bytes)");
      code = "request_too_large";
    } else if (res.status != 404) {
      message = str("the request was refused (HTTP ", res.status, ")");
      code = "bad_request";
    }
    Impl::reply(res, res.status, ApiError(res.status, message, "", code).to_json());
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.http.set_logger([&s](const httplib::Request& req, const httplib::Response& res) {
    s.metrics.count_request(endpoint_of(req.path), res.status);
  });

  s.http.Get("/health", [&s](const httplib::Request&, httplib::Response& res) {
    Impl::reply(res, s.ready ? 200 : 503, {{"status", s.ready ? "ok" : "loading"}});
  });
  s.http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(web_page_html(), "text/html; charset=utf-8");
  });
  s.http.Get("/metrics", [&s](const httplib::Request&, httplib::Response& res) {
    res.set_content(s.metrics.render(), "text/plain; version=0.0.4");
  });
  s.http.Get("/v1/models", s.guarded([&s](const httplib::Request&, httplib::Response& res) {
    const Capabilities& c = s.host->capabilities();
    const nlohmann::json model = {
        {"id", s.model_name},
        {"object", "model"},
        {"created", s.started},
        {"owned_by", "vlm"},
        {"capabilities", {{"chat", c.chat}, {"vision", c.vision}, {"embeddings", c.embeddings},
                          {"search", s.index != nullptr}}},
        {"context_length", c.context_length},
        {"image_tokens", c.image_tokens},
        {"embedding_dim", c.embedding_dim},
        {"index_size", s.index ? s.index->size() : 0},
        {"parallel", s.options.parallel}};
    Impl::reply(res, 200, {{"object", "list"}, {"data", nlohmann::json::array({model})}});
  }));
  s.add_chat_routes();
  s.add_embedding_routes();

  s.metrics.add_gauge("vlm_queue_depth", "Chat requests waiting for a decode slot.",
                      [&s] { return s.scheduler ? s.scheduler->queue_depth() : 0.0; });
  s.metrics.add_gauge("vlm_busy_slots", "Decode slots in use.", [&s] { return s.scheduler ? s.scheduler->busy_slots() : 0.0; });
  s.metrics.add_gauge("vlm_parallel_slots", "Decode slots (--parallel).", [&s] { return double(s.options.parallel); });
  s.metrics.add_gauge("vlm_generated_tokens_total", "Tokens generated.",
                      [&s] { return s.scheduler ? double(s.scheduler->tokens_generated()) : 0.0; }, /*counter=*/true);
  s.metrics.add_gauge("vlm_decode_steps_total", "Batched decode steps run.",
                      [&s] { return s.scheduler ? double(s.scheduler->steps()) : 0.0; }, /*counter=*/true);
  s.metrics.add_gauge("vlm_model_loaded", "1 once the model is loaded.", [&s] { return s.ready ? 1.0 : 0.0; });
}

Server::~Server() { stop(); }

int Server::bind() {
  Impl& s = *impl_;
  if (s.options.port == 0) {
    s.options.port = s.http.bind_to_any_port(s.options.host);
  } else if (!s.http.bind_to_port(s.options.host, s.options.port)) {
    s.options.port = -1;
  }
  if (s.options.port < 0) {
    throw Error(str("cannot listen on ", s.options.host, ":", s.options.port,
                    " (in use, or not an address of this machine): choose another --port or --host"));
  }
  return s.options.port;
}

void Server::start() {
  impl_->listener = std::thread([this] { impl_->http.listen_after_bind(); });
}

void Server::load() {
  Impl& s = *impl_;
  s.host = std::make_unique<ModelHost>(s.options.model, s.options.embed_model);
  if (!s.options.index.empty()) {
    if (!s.host->capabilities().embeddings) {
      throw ConfigError("--index", "needs a model with a stage-1 Q-Former and its tokenizer", "add --embed-model STAGE1_RUN");
    }
    const std::string id = fs::absolute(s.options.embed_model.empty() ? s.options.model : s.options.embed_model).string();
    s.index = std::make_unique<SearchIndex>(*s.host, s.options.index, s.options.index_cache, id);
  }
  if (s.host->capabilities().chat) s.scheduler = std::make_unique<Scheduler>(*s.host, s.options.parallel, s.options.max_queue);
  s.ready = true;
}

void Server::stop() {
  Impl& s = *impl_;
  if (s.http.is_running() || s.listener.joinable()) {
    s.http.stop();  // in-flight handlers finish: the pool drains before listen returns
    if (s.listener.joinable()) s.listener.join();
  }
  if (s.scheduler) s.scheduler->drain_and_stop();
}

bool Server::running() const { return impl_->http.is_running(); }

}  // namespace vlm::serve
