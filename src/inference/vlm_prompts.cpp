#include "inference/vlm_prompts.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/error.h"

namespace vlm::inference {
namespace {

// The end-of-turn token: the template's turn end ("<|im_end|>\n") without its newline, when it
// is one token; else EOS.
int64_t find_end_of_turn(const tokenizers::Tokenizer& tok, const tokenizers::ChatTemplate& chat) {
  std::string turn_end = chat.format().turn_end;
  while (!turn_end.empty() && (turn_end.back() == '\n' || turn_end.back() == ' ')) turn_end.pop_back();
  if (auto id = tok.token_to_id(turn_end)) return *id;
  if (auto id = tok.eos_token_id()) return *id;
  throw Error("tokenizer " + tok.origin() + " has neither an end-of-turn token ('" + turn_end + "') nor an EOS token");
}

}  // namespace

PromptBuilder::PromptBuilder(const std::string& lm_dir, std::string system_prompt, int64_t max_target_tokens)
    : tokenizer_(tokenizers::Tokenizer::from_path(lm_dir)),
      chat_(tokenizers::ChatTemplate::from_tokenizer_config(lm_dir)),
      system_(std::move(system_prompt)),
      max_target_tokens_(max_target_tokens),
      end_of_turn_id_(find_end_of_turn(tokenizer_, chat_)),
      // The reference pads with EOS when the tokenizer has no pad token.
      pad_id_(tokenizer_.pad_token_id().value_or(tokenizer_.eos_token_id().value_or(end_of_turn_id_))) {}

std::string PromptBuilder::prompt_text(const std::string& user) const {
  std::vector<tokenizers::ChatMessage> messages;
  if (!system_.empty()) messages.push_back({"system", system_});
  messages.push_back({"user", user});
  // Qwen3: no thinking for captions (its template then writes an empty think block).
  return chat_.apply(messages, /*add_generation_prompt=*/true, /*enable_thinking=*/false);
}

std::string PromptBuilder::chat_text(const std::vector<tokenizers::ChatMessage>& messages) const {
  std::vector<tokenizers::ChatMessage> all;
  if (!system_.empty() && (messages.empty() || messages.front().role != "system")) all.push_back({"system", system_});
  all.insert(all.end(), messages.begin(), messages.end());
  return chat_.apply(all, /*add_generation_prompt=*/true, /*enable_thinking=*/false);
}

TokenBatch PromptBuilder::build(const std::vector<PromptTarget>& rows) const {
  std::vector<std::vector<int64_t>> prompts, targets;
  size_t tp = 1, tt = 0;
  for (const auto& row : rows) {
    prompts.push_back(tokenizer_.encode(prompt_text(row.prompt), /*add_special_tokens=*/false).ids);
    std::vector<int64_t> target;
    if (!row.target.empty()) {
      target = tokenizer_.encode(row.target, /*add_special_tokens=*/false).ids;
      if (static_cast<int64_t>(target.size()) > max_target_tokens_) target.resize(static_cast<size_t>(max_target_tokens_));
      target.push_back(end_of_turn_id_);
    }
    tp = std::max(tp, prompts.back().size());
    tt = std::max(tt, target.size());
    targets.push_back(std::move(target));
  }
  const auto B = static_cast<int64_t>(rows.size());
  TokenBatch out;
  out.prompt_ids = torch::full({B, static_cast<int64_t>(tp)}, pad_id_, torch::kLong);
  out.prompt_mask = torch::zeros({B, static_cast<int64_t>(tp)}, torch::kLong);
  out.target_ids = torch::full({B, static_cast<int64_t>(tt)}, pad_id_, torch::kLong);
  out.target_mask = torch::zeros({B, static_cast<int64_t>(tt)}, torch::kLong);
  auto pi = out.prompt_ids.accessor<int64_t, 2>(), pm = out.prompt_mask.accessor<int64_t, 2>();
  auto ti = out.target_ids.accessor<int64_t, 2>(), tm = out.target_mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[b];
    const int64_t offset = static_cast<int64_t>(tp - p.size());  // left padding
    for (size_t i = 0; i < p.size(); ++i) {
      pi[b][offset + static_cast<int64_t>(i)] = p[i];
      pm[b][offset + static_cast<int64_t>(i)] = 1;
    }
    for (size_t i = 0; i < targets[b].size(); ++i) {
      ti[b][static_cast<int64_t>(i)] = targets[b][i];
      tm[b][static_cast<int64_t>(i)] = 1;
    }
  }
  return out;
}

std::string PromptBuilder::decode(const std::vector<int64_t>& ids) const {
  return tokenizer_.decode(ids, /*skip_special_tokens=*/true);
}

std::vector<int64_t> PromptBuilder::stop_ids() const {
  std::vector<int64_t> ids = {end_of_turn_id_};
  if (auto eos = tokenizer_.eos_token_id(); eos && *eos != end_of_turn_id_) ids.push_back(*eos);
  return ids;
}

}  // namespace vlm::inference
