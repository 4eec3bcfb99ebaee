// Chat formatting of the supported chat templates (ChatML as in SmolLM-Instruct, Qwen3's
// thinking-aware ChatML), matching transformers' apply_chat_template output for those templates.
// No Jinja engine: known templates are recognised from tokenizer_config.json's chat_template and
// an unknown one is refused, unless the role strings are given explicitly as a ChatFormat.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace vlm::tokenizers {

struct ChatMessage {
  std::string role;     // "system", "user" or "assistant"
  std::string content;
};

// Role strings of a ChatML-like format, e.g. system_prefix "<|im_start|>system\n",
// turn_end "<|im_end|>\n".
struct ChatFormat {
  std::string system_prefix;
  std::string user_prefix;
  std::string assistant_prefix;
  std::string turn_end;
  std::string generation_prompt;       // appended when add_generation_prompt; e.g. "<|im_start|>assistant\n"
  std::string bos;                     // written once before everything; usually empty
  std::optional<std::string> default_system;  // system turn inserted when the first message is not one
};

enum class ChatStyle {
  kFormat,  // plain prefixes / turn_end from a ChatFormat (ChatML, SmolLM, custom)
  kQwen3,   // Qwen3: ChatML plus the <think> rules of its template
};

class ChatTemplate {
 public:
  // A model folder or a tokenizer_config.json; refuses a missing or unrecognised chat_template.
  static ChatTemplate from_tokenizer_config(const std::string& path);
  // Recognises a Jinja template string; `origin` names it in errors.
  static ChatTemplate from_template_string(const std::string& jinja, const std::string& origin = "chat_template");
  static ChatTemplate from_format(ChatFormat format);
  // ChatML without a default system turn ("<|im_start|>ROLE\n...<|im_end|>\n").
  static ChatFormat chatml();

  // transformers' apply_chat_template(messages, tokenize=False, add_generation_prompt=...,
  // enable_thinking=...). enable_thinking only matters for Qwen3 (false adds an empty think block
  // after the generation prompt).
  std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                    bool enable_thinking = true) const;

  ChatStyle style() const { return style_; }
  const ChatFormat& format() const { return format_; }
  const std::string& name() const { return name_; }  // "chatml", "smollm2", "qwen3", "custom"

 private:
  ChatTemplate(ChatStyle style, ChatFormat format, std::string name)
      : style_(style), format_(std::move(format)), name_(std::move(name)) {}
  ChatStyle style_;
  ChatFormat format_;
  std::string name_;
};

}  // namespace vlm::tokenizers
