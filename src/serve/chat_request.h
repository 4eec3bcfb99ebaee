// OpenAI's chat completion request and response objects, as https://platform.openai.com/docs/api-reference/chat
// describes them: messages with string or part contents (text, image_url), the sampling fields,
// streaming with `chat.completion.chunk` objects. Unknown fields are ignored as OpenAI does; every
// field that is present is checked, and an ApiError names it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "serve/scheduler.h"
#include "tokenizers/chat.h"

namespace vlm::serve {

struct ChatRequest {
  std::vector<tokenizers::ChatMessage> messages;  // text only; the images are listed below
  std::vector<std::string> image_urls;            // in order of appearance
  std::vector<std::string> image_params;          // "messages[0].content[1].image_url.url", for errors
  std::optional<int64_t> max_tokens;              // max_completion_tokens or max_tokens
  std::optional<double> temperature, top_p, repetition_penalty;
  std::optional<int64_t> top_k, min_tokens;      // min_tokens: vLLM's extension
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;                     // stream_options.include_usage
  std::string model;
};

// Parses and checks the body (ApiError 400 naming the field); `default_prompt` stands in for a last
// user turn that has an image and no text (`vlm caption`'s default question).
ChatRequest parse_chat_request(const nlohmann::json& body, const std::string& default_prompt);

struct Usage {
  int64_t prompt_tokens = 0, completion_tokens = 0;
  nlohmann::json to_json() const {
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens}};
  }
};

nlohmann::json chat_completion(const std::string& id, int64_t created, const std::string& model,
                               const std::string& text, const std::string& finish_reason, const Usage& usage);
// One SSE chunk object; `delta` is {"role": "assistant"} first, then {"content": ...}, then {}.
nlohmann::json chat_chunk(const std::string& id, int64_t created, const std::string& model, const nlohmann::json& delta,
                          const std::optional<std::string>& finish_reason);

}  // namespace vlm::serve
