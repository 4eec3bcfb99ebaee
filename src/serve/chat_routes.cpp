// POST /v1/chat/completions: every limit checked before the request is queued (images, pixels,
// prompt + max_tokens within the context, the queue), then the reply whole or as Server-Sent Events
// (role chunk, one chunk per clean piece of text, the finish chunk, usage if asked, [DONE]).
#include <chrono>
#include <ctime>
#include <sstream>

#include "core/error.h"
#include "serve/chat_request.h"
#include "serve/server_impl.h"

namespace vlm::serve {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

void Server::Impl::add_chat_routes() {
  http.Post("/v1/chat/completions", guarded([this](const httplib::Request& req, httplib::Response& res) {
    const auto arrived = Clock::now();
    const Capabilities& caps = host->capabilities();
    if (!caps.chat) {
      throw ApiError(400, "this model has no language model (a stage-1 run): only /v1/embeddings and /v1/search", "model",
                     "chat_not_supported");
    }
    const ChatRequest r = parse_chat_request(parse_body(req), host->default_prompt());
    if (!r.image_urls.empty() && !caps.vision) {
      throw ApiError(400, "this model has no vision part: send text only", "messages", "images_not_supported");
    }
    if (static_cast<int64_t>(r.image_urls.size()) > options.max_images) {
      throw ApiError(400, str("the request holds ", r.image_urls.size(), " images; the limit is ", options.max_images,
                              " (--max-images)"),
                     "messages", "too_many_images");
    }
    std::vector<int64_t> ids = host->prompt_ids(r.messages);
    const int64_t prompt_tokens = static_cast<int64_t>(ids.size() + r.image_urls.size() * caps.image_tokens);
    const models::GenerationConfig defaults = host->generation_defaults();
    const int64_t room = caps.context_length - prompt_tokens;
    const int64_t max_tokens = r.max_tokens.value_or(std::min(defaults.max_new_tokens, std::max<int64_t>(room, 1)));
    if (prompt_tokens + max_tokens > caps.context_length) {
      throw ApiError(400,
                     str("this model's maximum context length is ", caps.context_length, " tokens; the prompt takes ",
                         prompt_tokens, " (", r.image_urls.size(), " images x ", caps.image_tokens, " + ", ids.size(),
                         " text) and max_tokens asks for ", max_tokens, ": ", prompt_tokens + max_tokens, " in all"),
                     r.max_tokens ? "max_tokens" : "messages", "context_length_exceeded");
    }
    if (r.min_tokens.value_or(0) > max_tokens) {
      throw ApiError(400, str("min_tokens (", *r.min_tokens, ") is above max_tokens (", max_tokens, ")"), "min_tokens",
                     "invalid_value");
    }
    std::vector<data::Image> images;
    for (size_t i = 0; i < r.image_urls.size(); ++i) {
      images.push_back(load_image_url(r.image_urls[i], r.image_params[i], options.images));
    }
    SamplingParams p;
    p.max_tokens = max_tokens;
    p.temperature = r.temperature.value_or(defaults.temperature);
    p.top_p = r.top_p.value_or(defaults.top_p);
    p.top_k = r.top_k.value_or(defaults.top_k);
    p.repetition_penalty = r.repetition_penalty.value_or(defaults.repetition_penalty);
    p.seed = r.seed.value_or(defaults.seed);
    p.min_tokens = r.min_tokens.value_or(0);
    p.stop = r.stop;
    auto job = std::make_shared<Job>(std::move(images), std::move(ids), std::move(p));
    if (!scheduler->submit(job)) {
      throw ApiError(429, str("the server is busy: ", options.parallel, " requests decoding and ", options.max_queue,
                              " waiting (--parallel, --max-queue); retry later"),
                     "", "rate_limit_exceeded", "rate_limit_error");
    }
    std::ostringstream id;
    id << "chatcmpl-" << std::hex << started << "-" << next_id++;
    const int64_t created = static_cast<int64_t>(std::time(nullptr));
    const std::string model = model_name;

    if (!r.stream) {
      JobEvent event;
      while (!job->next(event, 1000ms) || !event.finished) {
      }
      if (event.finish_reason == "error") throw ApiError(500, event.error, "", "generation_failed", "server_error");
      metrics.observe_ttft(seconds_between(arrived, job->first_token));
      metrics.observe_latency("/v1/chat/completions", seconds_between(arrived, Clock::now()));
      reply(res, 200, chat_completion(id.str(), created, model, job->text, event.finish_reason,
                                      {prompt_tokens, job->completion_tokens.load()}));
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    const bool usage_chunks = r.include_usage;
    res.set_chunked_content_provider(
        "text/event-stream", [this, job, id = id.str(), created, model, usage_chunks, prompt_tokens, arrived](
                                 size_t, httplib::DataSink& sink) {
          auto send = [&](json chunk) {
            if (usage_chunks && !chunk.contains("usage")) chunk["usage"] = nullptr;
            const std::string line = "data: " + chunk.dump() + "\n\n";
            return sink.write(line.data(), line.size());
          };
          if (!send(chat_chunk(id, created, model, {{"role", "assistant"}, {"content", ""}}, std::nullopt))) {
            job->cancel();
            return false;
          }
          auto last_write = Clock::now();
          JobEvent event;
          while (true) {
            if (!job->next(event, 250ms)) {
              // A comment line now and then: a client that went away makes the write fail.
              if (Clock::now() - last_write > 1s) {
                static const std::string kAlive = ": keep-alive\n\n";
                if (!sink.write(kAlive.data(), kAlive.size())) {
                  job->cancel();
                  return false;
                }
                last_write = Clock::now();
              }
              continue;
            }
            if (!event.delta.empty()) {
              if (!send(chat_chunk(id, created, model, {{"content", event.delta}}, std::nullopt))) {
                job->cancel();
                return false;
              }
              last_write = Clock::now();
            }
            if (event.finished) break;
          }
          if (event.finish_reason == "error") {
            send(ApiError(500, event.error, "", "generation_failed", "server_error").to_json());
          } else {
            send(chat_chunk(id, created, model, json::object(), event.finish_reason));
            if (usage_chunks) {
              json last = chat_chunk(id, created, model, json::object(), std::nullopt);
              last["choices"] = json::array();
              last["usage"] = Usage{prompt_tokens, job->completion_tokens.load()}.to_json();
              send(last);
            }
            metrics.observe_ttft(seconds_between(arrived, job->first_token));
          }
          static const std::string kDone = "data: [DONE]\n\n";
          sink.write(kDone.data(), kDone.size());
          sink.done();
          metrics.observe_latency("/v1/chat/completions", seconds_between(arrived, Clock::now()));
          return true;
        });
  }));
}

}  // namespace vlm::serve
