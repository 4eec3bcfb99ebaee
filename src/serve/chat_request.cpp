// Chat completion requests and responses (see chat_request.h).
#include "serve/chat_request.h"

#include "core/error.h"
#include "serve/api_error.h"

namespace vlm::serve {
namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string& param, const std::string& message, const std::string& code = "invalid_value") {
  throw ApiError(400, message, param, code);
}

double number_in(const json& body, const char* key, double lo, double hi) {
  const json& v = body.at(key);
  if (!v.is_number()) bad(key, str("'", key, "' must be a number"), "invalid_type");
  const double x = v.get<double>();
  if (!(x >= lo && x <= hi)) bad(key, str("'", key, "' must be in [", lo, ", ", hi, "], got ", x));
  return x;
}

int64_t integer_in(const json& body, const char* key, int64_t lo, int64_t hi) {
  const json& v = body.at(key);
  if (!v.is_number_integer()) bad(key, str("'", key, "' must be an integer"), "invalid_type");
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) bad(key, str("'", key, "' must be in [", lo, ", ", hi, "], got ", x));
  return x;
}

bool present(const json& body, const char* key) { return body.contains(key) && !body.at(key).is_null(); }

// A message's content: a string or a list of parts; text parts joined by newlines, images listed.
std::string content_of(const json& content, const std::string& param, ChatRequest& out) {
  if (content.is_null()) return {};
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) bad(param, "'content' must be a string or an array of parts", "invalid_type");
  std::string text;
  for (size_t j = 0; j < content.size(); ++j) {
    const json& part = content[j];
    const std::string p = str(param, "[", j, "]");
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
      bad(p, "each content part must be an object with a 'type'", "invalid_type");
    }
    const std::string type = part["type"].get<std::string>();
    if (type == "text") {
      if (!part.contains("text") || !part["text"].is_string()) bad(p + ".text", "a text part needs a string 'text'");
      if (!text.empty()) text += "\n";
      text += part["text"].get<std::string>();
    } else if (type == "image_url") {
      const json& iu = part.contains("image_url") ? part["image_url"] : json();
      const json url = iu.is_string() ? iu : (iu.is_object() && iu.contains("url") ? iu["url"] : json());
      if (!url.is_string()) bad(p + ".image_url.url", "an image_url part needs image_url.url (a string)");
      out.image_urls.push_back(url.get<std::string>());
      out.image_params.push_back(p + ".image_url.url");
    } else {
      bad(p + ".type", "content part type '" + type + "' is not supported (text, image_url)");
    }
  }
  return text;
}

}  // namespace

ChatRequest parse_chat_request(const json& body, const std::string& default_prompt) {
  if (!body.is_object()) bad("", "the request body must be a JSON object", "invalid_type");
  ChatRequest r;
  if (present(body, "model")) {
    if (!body["model"].is_string()) bad("model", "'model' must be a string", "invalid_type");
    r.model = body["model"].get<std::string>();
  }
  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
    bad("messages", "'messages' must be a non-empty array", "missing_required_parameter");
  }
  const json& messages = body["messages"];
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string p = str("messages[", i, "]");
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) bad(p + ".role", "each message needs a 'role'");
    std::string role = m["role"].get<std::string>();
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant") {
      bad(p + ".role", "role '" + role + "' is not supported (system, user, assistant)");
    }
    const size_t images_before = r.image_urls.size();
    std::string text = content_of(m.contains("content") ? m["content"] : json(), p + ".content", r);
    if (role != "user" && r.image_urls.size() != images_before) bad(p + ".content", "only user messages may hold images");
    r.messages.push_back({role, std::move(text)});
  }
  if (r.messages.back().role != "user") bad("messages", "the last message must be the user's");
  if (r.messages.back().content.empty()) {
    if (r.image_urls.empty()) bad(str("messages[", messages.size() - 1, "].content"), "the last user message is empty");
    r.messages.back().content = default_prompt;
  }
  if (present(body, "max_completion_tokens")) r.max_tokens = integer_in(body, "max_completion_tokens", 1, 1 << 20);
  else if (present(body, "max_tokens")) r.max_tokens = integer_in(body, "max_tokens", 1, 1 << 20);
  if (present(body, "temperature")) r.temperature = number_in(body, "temperature", 0, 2);
  if (present(body, "top_p")) r.top_p = number_in(body, "top_p", 1e-9, 1);
  if (present(body, "top_k")) r.top_k = integer_in(body, "top_k", 0, 1 << 20);
  if (present(body, "min_tokens")) r.min_tokens = integer_in(body, "min_tokens", 0, 1 << 20);
  if (present(body, "repetition_penalty")) r.repetition_penalty = number_in(body, "repetition_penalty", 1e-3, 100);
  if (present(body, "seed")) {
    if (!body["seed"].is_number_integer()) bad("seed", "'seed' must be an integer", "invalid_type");
    r.seed = static_cast<uint64_t>(body["seed"].get<int64_t>());
  }
  if (present(body, "n") && integer_in(body, "n", 1, 1) != 1) bad("n", "only n = 1 is supported");
  if (present(body, "stop")) {
    const json& s = body["stop"];
    if (s.is_string()) {
      r.stop.push_back(s.get<std::string>());
    } else if (s.is_array() && s.size() <= 4) {
      for (const auto& x : s) {
        if (!x.is_string()) bad("stop", "'stop' must be a string or up to 4 strings", "invalid_type");
        r.stop.push_back(x.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or up to 4 strings", "invalid_type");
    }
  }
  if (present(body, "stream")) {
    if (!body["stream"].is_boolean()) bad("stream", "'stream' must be a boolean", "invalid_type");
    r.stream = body["stream"].get<bool>();
  }
  if (present(body, "stream_options")) {
    const json& so = body["stream_options"];
    if (!so.is_object()) bad("stream_options", "'stream_options' must be an object", "invalid_type");
    if (so.contains("include_usage")) {
      if (!so["include_usage"].is_boolean()) bad("stream_options.include_usage", "must be a boolean", "invalid_type");
      r.include_usage = so["include_usage"].get<bool>();
    }
  }
  return r;
}

json chat_completion(const std::string& id, int64_t created, const std::string& model, const std::string& text,
                     const std::string& finish_reason, const Usage& usage) {
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", model},
          {"choices",
           json::array({{{"index", 0},
                         {"message", {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}},
                         {"logprobs", nullptr},
                         {"finish_reason", finish_reason}}})},
          {"usage", usage.to_json()}};
}

json chat_chunk(const std::string& id, int64_t created, const std::string& model, const json& delta,
                const std::optional<std::string>& finish_reason) {
  return {{"id", id},
          {"object", "chat.completion.chunk"},
          {"created", created},
          {"model", model},
          {"choices", json::array({{{"index", 0},
                                    {"delta", delta},
                                    {"logprobs", nullptr},
                                    {"finish_reason", finish_reason ? json(*finish_reason) : json(nullptr)}}})}};
}

}  // namespace vlm::serve
