// Chat formatting without a Jinja engine: tokenizer_config.json's chat_template is compared, in a
// canonical form (whitespace and quoting ignored), against the templates vlm supports -- plain
// ChatML (SmolLM-Instruct), SmolLM2's ChatML with a default system turn, and Qwen3's -- and the
// matching formatter reproduces what transformers' apply_chat_template renders from them.
#include "tokenizers/chat.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizers/impl.h"

namespace vlm::tokenizers {

namespace {

// Whitespace-free form with "\n" escapes, quote style and attribute access unified.
std::string canonical(const std::string& t) {
  std::string s;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\\' && i + 1 < t.size() && t[i + 1] == 'n') {
      ++i;
      continue;  // an escaped newline is whitespace too
    }
    if (t[i] == ' ' || t[i] == '\n' || t[i] == '\t' || t[i] == '\r') continue;
    s.push_back(t[i] == '"' ? '\'' : t[i]);
  }
  auto replace_all = [&](const std::string& from, const std::string& to) {
    size_t pos = 0;
    while ((pos = s.find(from, pos)) != std::string::npos) {
      s.replace(pos, from.size(), to);
      pos += to.size();
    }
  };
  replace_all("message.role", "message['role']");
  replace_all("message.content", "message['content']");
  replace_all("{%-", "{%");
  replace_all("-%}", "%}");
  replace_all("{{-", "{{");
  replace_all("-}}", "}}");
  return s;
}

const char* const kChatMLLoop =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

bool is_qwen3(const std::string& c) {
  for (const char* marker : {"<|im_start|>", "last_query_index", "reasoning_content", "enable_thinking",
                             "'<think>\\n\\n</think>\\n\\n'", "multi_step_tool", "<tool_response>"})
    if (c.find(canonical(marker)) == std::string::npos) return false;
  return true;
}

std::string strip_newlines(const std::string& s, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left)
    while (b < e && s[b] == '\n') ++b;
  if (right)
    while (e > b && s[e - 1] == '\n') --e;
  return s.substr(b, e - b);
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// Qwen3's chat_template, rule by rule (tools in the system prompt are not supported).
std::string apply_qwen3(const std::vector<ChatMessage>& messages, bool add_generation_prompt, bool enable_thinking) {
  if (messages.empty()) throw Error("chat template qwen3: no messages (the template reads messages[0])");
  std::string out;
  if (messages[0].role == "system") out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
  const size_t n = messages.size();
  size_t last_query_index = n - 1;
  for (size_t k = n; k-- > 0;) {
    const ChatMessage& m = messages[k];
    if (m.role == "user" && !(starts_with(m.content, "<tool_response>") && ends_with(m.content, "</tool_response>"))) {
      last_query_index = k;
      break;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user" || (m.role == "system" && i != 0)) {
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    } else if (m.role == "assistant") {
      std::string content = m.content, reasoning;
      const size_t end_think = m.content.rfind("</think>");
      if (end_think != std::string::npos) {
        content = strip_newlines(m.content.substr(end_think + 8), true, false);
        const std::string before = strip_newlines(m.content.substr(0, m.content.find("</think>")), false, true);
        const size_t open = before.rfind("<think>");
        reasoning = strip_newlines(open == std::string::npos ? before : before.substr(open + 7), true, false);
      }
      if (i > last_query_index && (i + 1 == n || !reasoning.empty()))
        out += "<|im_start|>assistant\n<think>\n" + strip_newlines(reasoning, true, true) + "\n</think>\n\n" +
               strip_newlines(content, true, false);
      else
        out += "<|im_start|>assistant\n" + content;
      out += "<|im_end|>\n";
    } else if (m.role == "tool") {
      if (i == 0 || messages[i - 1].role != "tool") out += "<|im_start|>user";
      out += "\n<tool_response>\n" + m.content + "\n</tool_response>";
      if (i + 1 == n || messages[i + 1].role != "tool") out += "<|im_end|>\n";
    }
    // other roles render nothing in Qwen3's template
  }
  if (add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    if (!enable_thinking) out += "<think>\n\n</think>\n\n";
  }
  return out;
}

}  // namespace

ChatFormat ChatTemplate::chatml() {
  ChatFormat f;
  f.system_prefix = "<|im_start|>system\n";
  f.user_prefix = "<|im_start|>user\n";
  f.assistant_prefix = "<|im_start|>assistant\n";
  f.turn_end = "<|im_end|>\n";
  f.generation_prompt = "<|im_start|>assistant\n";
  return f;
}

ChatTemplate ChatTemplate::from_format(ChatFormat format) {
  return ChatTemplate(ChatStyle::kFormat, std::move(format), "custom");
}

ChatTemplate ChatTemplate::from_template_string(const std::string& jinja, const std::string& origin) {
  const std::string c = canonical(jinja);
  if (c == canonical(kChatMLLoop)) return ChatTemplate(ChatStyle::kFormat, chatml(), "chatml");
  // SmolLM2: ChatML plus a default system turn when the conversation has none.
  const std::string smol_head = canonical("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\n");
  const std::string smol_mid = canonical("<|im_end|>\\n' }}{% endif %}");
  const std::string loop_tail = canonical(kChatMLLoop).substr(canonical("{% for message in messages %}").size());
  if (starts_with(c, smol_head) && ends_with(c, smol_mid + loop_tail)) {
    const std::string open = "<|im_start|>system\\n", close = "<|im_end|>\\n";
    const size_t a = jinja.find(open);
    const size_t b = a == std::string::npos ? a : jinja.find(close, a);
    std::string system;
    if (a != std::string::npos && b != std::string::npos) {
      system = jinja.substr(a + open.size(), b - a - open.size());
    } else {  // the template was stored with real newlines
      const std::string open_nl = "<|im_start|>system\n", close_nl = "<|im_end|>\n";
      const size_t a2 = jinja.find(open_nl);
      const size_t b2 = a2 == std::string::npos ? a2 : jinja.find(close_nl, a2);
      if (a2 == std::string::npos || b2 == std::string::npos)
        throw Error(str(origin, ": cannot find the default system message of a SmolLM2-style template"));
      system = jinja.substr(a2 + open_nl.size(), b2 - a2 - open_nl.size());
    }
    ChatFormat f = chatml();
    f.default_system = system;
    return ChatTemplate(ChatStyle::kFormat, f, "smollm2");
  }
  if (is_qwen3(c)) {
    if (c.find(canonical("{%- if tools %}")) == std::string::npos)
      throw Error(str(origin, ": a Qwen-style chat template that is not Qwen3's"),
                  "give the role strings explicitly with a ChatFormat");
    return ChatTemplate(ChatStyle::kQwen3, chatml(), "qwen3");
  }
  throw Error(str(origin, ": unsupported chat template (vlm renders ChatML, SmolLM2's and Qwen3's templates "
                          "without a Jinja engine)"),
              "give the role strings explicitly (ChatFormat: system_prefix, user_prefix, assistant_prefix, "
              "turn_end, generation_prompt)");
}

ChatTemplate ChatTemplate::from_tokenizer_config(const std::string& path) {
  std::string file = path;
  if (std::filesystem::is_directory(path)) file = (std::filesystem::path(path) / "tokenizer_config.json").string();
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    throw FileError(file, str("invalid JSON: ", e.what()));
  }
  std::optional<std::string> jinja;
  if (config.is_object() && config.contains("chat_template")) {
    const auto& t = config["chat_template"];
    if (t.is_string()) jinja = t.get<std::string>();
    if (t.is_array())
      for (const auto& e : t)
        if (e.is_object() && e.value("name", std::string()) == "default" && e.contains("template") &&
            e["template"].is_string())
          jinja = e["template"].get<std::string>();
  }
  if (!jinja) throw FileError(file, "no chat_template", "give the role strings explicitly with a ChatFormat");
  return from_template_string(*jinja, file + ": chat_template");
}

std::string ChatTemplate::apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                bool enable_thinking) const {
  if (style_ == ChatStyle::kQwen3) return apply_qwen3(messages, add_generation_prompt, enable_thinking);
  std::string out = format_.bos;
  if (format_.default_system && (messages.empty() || messages[0].role != "system"))
    out += format_.system_prefix + *format_.default_system + format_.turn_end;
  for (const ChatMessage& m : messages) {
    const std::string* prefix = m.role == "system"      ? &format_.system_prefix
                                : m.role == "user"      ? &format_.user_prefix
                                : m.role == "assistant" ? &format_.assistant_prefix
                                                        : nullptr;
    if (prefix == nullptr)
      throw Error(str("chat template ", name_, ": unsupported role '", m.role, "'"), "use system, user or assistant");
    out += *prefix + m.content + format_.turn_end;
  }
  if (add_generation_prompt) out += format_.generation_prompt;
  return out;
}

}  // namespace vlm::tokenizers
