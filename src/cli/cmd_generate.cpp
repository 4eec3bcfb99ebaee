// `vlm generate --model LM_DIR --prompt TEXT`: text generation with a plain causal LM folder (SmolLM,
// Qwen3; optionally with a PEFT LoRA adapter). The prompt is wrapped in the model's chat template as a
// user turn unless --raw; only the continuation is printed. Temperature 0 is greedy decoding.
#include <torch/torch.h>

#include <iostream>
#include <set>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "models/decoder.h"
#include "models/generation.h"
#include "models/peft.h"
#include "tokenizers/chat.h"
#include "tokenizers/tokenizer.h"

namespace {

using vlm::str;

int run_generate(const vlm::cli::Args& args) {
  const std::string model_dir = args.get("--model");
  const std::string prompt = args.get("--prompt");
  const auto tokenizer = vlm::tokenizers::Tokenizer::from_path(model_dir);

  std::string text = prompt;
  bool add_special = true;
  if (!args.has("--raw")) {
    const auto chat = vlm::tokenizers::ChatTemplate::from_tokenizer_config(model_dir);
    std::vector<vlm::tokenizers::ChatMessage> messages;
    if (const auto system = args.maybe("--system")) messages.push_back({"system", *system});
    messages.push_back({"user", prompt});
    text = chat.apply(messages, /*add_generation_prompt=*/true, /*enable_thinking=*/args.has("--thinking"));
    add_special = false;  // apply_chat_template(tokenize=True) adds no special tokens of its own
  }
  const std::vector<int64_t> ids = tokenizer.encode(text, add_special).ids;
  if (ids.empty()) throw vlm::UsageError("the prompt encodes to no tokens");

  auto lm = vlm::models::load_decoder(model_dir);
  if (const auto adapter = args.maybe("--adapter")) {
    vlm::models::load_peft_adapter(*lm.model, *adapter);
    lm.model->eval();
  }

  vlm::models::GenerationConfig cfg;
  cfg.max_new_tokens = args.get_int("--max-new-tokens", 64);
  cfg.temperature = args.get_double("--temperature", 0.0);
  cfg.top_k = args.get_int("--top-k", 0);
  cfg.top_p = args.get_double("--top-p", 1.0);
  cfg.repetition_penalty = args.get_double("--repetition-penalty", 1.0);
  cfg.seed = static_cast<uint64_t>(args.get_int("--seed", 0));
  try {
    cfg.validate();
  } catch (const vlm::ConfigError& e) {
    throw vlm::UsageError(e.what());
  }
  // Stop at the model's EOS ids, the tokenizer's EOS and the chat end-of-turn token.
  std::set<int64_t> stops(lm.config.eos_token_id.begin(), lm.config.eos_token_id.end());
  if (const auto eos = tokenizer.eos_token_id()) stops.insert(*eos);
  for (const char* turn_end : {"<|im_end|>", "<|eot_id|>", "<|endoftext|>"})
    if (const auto id = tokenizer.token_to_id(turn_end)) stops.insert(*id);
  cfg.eos_token_ids.assign(stops.begin(), stops.end());
  cfg.pad_token_id = tokenizer.pad_token_id().value_or(stops.empty() ? 0 : *stops.begin());

  const at::Tensor input = torch::tensor(ids, torch::kLong).unsqueeze(0);  // (1, P)
  const auto out = vlm::models::generate(*lm.model, input, {}, cfg);
  std::cout << tokenizer.decode(out.tokens[0], /*skip_special_tokens=*/true) << std::endl;
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "generate",
    .usage = "--model LM_DIR --prompt TEXT [--raw] [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] "
             "[--repetition-penalty R] [--seed S] [--adapter PEFT_DIR]",
    .summary = "generate a continuation with a causal LM folder (chat template applied unless --raw)",
    .flags = {{.name = "--model", .value_name = "DIR",
               .help = "HF causal LM folder (llama / qwen3) with its tokenizer", .required = true},
              {.name = "--prompt", .value_name = "TEXT",
               .help = "the user message (or the raw text with --raw)", .required = true},
              {"--system", "TEXT", "an optional system turn"},
              {"--raw", "", "feed the prompt as it is, without the chat template"},
              {"--thinking", "", "Qwen3: leave thinking on (default off: an empty think block)"},
              {"--max-new-tokens", "N", "tokens to generate at most (default 64)"},
              {"--temperature", "T", "sampling temperature; 0 = greedy (default 0)"},
              {"--top-k", "K", "keep the K most likely tokens (default 0 = off)"},
              {"--top-p", "P", "nucleus sampling mass (default 1 = off)"},
              {"--repetition-penalty", "R", "transformers' repetition penalty (default 1 = off)"},
              {"--seed", "S", "sampling seed (default 0)"},
              {"--adapter", "DIR", "a PEFT LoRA adapter folder"}},
    .run = run_generate,
});

}  // namespace
