// Turns captions and questions into the LM's token batches as the reference does: the chat
// template applied to a system turn and a user turn (ending with the assistant generation
// prompt), left-padded; the target (caption or answer) followed by the end-of-turn token,
// right-padded. The same code builds training batches and generation prompts.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "tokenizers/chat.h"
#include "tokenizers/tokenizer.h"

namespace vlm::inference {

struct PromptTarget {
  std::string prompt;  // the user turn: "Describe this picture." or a question
  std::string target;  // the caption or answer; empty for generation
};

struct TokenBatch {
  at::Tensor prompt_ids, prompt_mask;  // (B, Tp) left-padded
  at::Tensor target_ids, target_mask;  // (B, Tt) right-padded; (B, 0) without targets
};

class PromptBuilder {
 public:
  // `lm_dir`: the LM folder (tokenizer.json + tokenizer_config.json with its chat template).
  PromptBuilder(const std::string& lm_dir, std::string system_prompt, int64_t max_target_tokens);

  TokenBatch build(const std::vector<PromptTarget>& rows) const;
  std::string prompt_text(const std::string& user) const;  // the chat-formatted prefix
  // A whole conversation formatted the same way (the system prompt first unless the messages start
  // with one), ending with the assistant generation prompt: prompt_text(u) == chat_text({{"user", u}}).
  std::string chat_text(const std::vector<tokenizers::ChatMessage>& messages) const;
  std::string decode(const std::vector<int64_t>& ids) const;
  // Tokens that end an answer: the end-of-turn token and EOS.
  std::vector<int64_t> stop_ids() const;
  int64_t pad_id() const { return pad_id_; }
  const tokenizers::Tokenizer& tokenizer() const { return tokenizer_; }

 private:
  tokenizers::Tokenizer tokenizer_;
  tokenizers::ChatTemplate chat_;
  std::string system_;
  int64_t max_target_tokens_;
  int64_t end_of_turn_id_;
  int64_t pad_id_;
};

}  // namespace vlm::inference
