// `vlm tokenize --tokenizer PATH`: ids of texts with a model folder's tokenizer (Hugging Face
// tokenizer.json, BERT vocab.txt or GPT-2 vocab.json + merges.txt), as JSON lines; --decode turns
// ids back into text. Used to check what a model will see and to pre-tokenize data.
#include <cstdint>
#include <iostream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "tokenizers/tokenizer.h"

namespace {

using nlohmann::json;
using vlm::tokenizers::Tokenizer;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Calls fn(object, line number) for each non-empty stdin line, which must be a JSON object for
// which has_field(object) holds (`expected` shows its shape in the error).
template <typename Check, typename Fn>
void for_each_stdin_object(const char* expected, Check has_field, Fn fn) {
  std::string line;
  size_t number = 0;
  while (std::getline(std::cin, line)) {
    ++number;
    if (line.empty()) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      throw vlm::Error(vlm::str("stdin line ", number, ": invalid JSON: ", e.what()));
    }
    if (!j.is_object() || !has_field(j)) throw vlm::Error(vlm::str("stdin line ", number, ": expected ", expected));
    fn(j, number);
  }
}

int run_tokenize(const vlm::cli::Args& args) {
  const std::string path = args.get("--tokenizer");
  const Tokenizer tok = Tokenizer::from_path(path);
  const bool special = args.has("--special");
  std::ios::sync_with_stdio(false);

  if (args.has("--decode")) {
    const auto has_ids = [](const json& j) { return j.contains("ids") && j["ids"].is_array(); };
    for_each_stdin_object("{\"ids\": [...]}", has_ids, [&](const json& j, size_t number) {
      std::vector<int64_t> ids;
      for (const json& id : j["ids"]) {
        if (!id.is_number_integer()) throw vlm::Error(vlm::str("stdin line ", number, ": ids must be integers"));
        // HF's decode skips unknown ids silently; here a wrong id is the user's mistake to hear about.
        const bool fits = id.is_number_unsigned() ? id.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX) : true;
        const int64_t value = fits ? id.get<int64_t>() : -1;
        bool known = fits && value >= 0;
        if (known) {
          try {
            tok.id_to_token(value);
          } catch (const vlm::Error&) {
            known = false;
          }
        }
        if (!known)
          throw vlm::Error(vlm::str("stdin line ", number, ": id ", id.dump(), " is not in the vocabulary (ids 0..",
                                    tok.vocab_size() - 1, ")"));
        ids.push_back(value);
      }
      std::cout << dump(json{{"text", tok.decode(ids, /*skip_special_tokens=*/!special)}}) << '\n';
    });
    return 0;
  }

  if (args.has("--jsonl")) {
    const auto has_text = [](const json& j) { return j.contains("text") && j["text"].is_string(); };
    for_each_stdin_object("{\"text\": \"...\"}", has_text, [&](const json& j, size_t) {
      std::cout << dump(json{{"ids", tok.encode(j["text"].get_ref<const std::string&>(), special).ids}}) << '\n';
    });
    return 0;
  }

  // Plain texts: the positional arguments, or all of stdin as one text.
  std::vector<std::string> texts = args.positional();
  if (texts.empty()) texts.emplace_back(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  for (const std::string& text : texts) {
    const auto e = tok.encode(text, special);
    std::cout << dump(json{{"ids", e.ids}, {"tokens", e.tokens}}) << '\n';
  }
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "tokenize",
    .usage = "--tokenizer PATH [--jsonl | --decode] [--special] [TEXT ...]",
    .summary = "tokenize text (or decode ids) with a model folder's tokenizer, as JSON lines",
    .flags =
        {
            {.name = "--tokenizer", .value_name = "PATH",
             .help = "a model folder (tokenizer.json, vocab.txt, or vocab.json + merges.txt) or a tokenizer.json", .required = true},
            {"--jsonl", "", "read {\"text\": ...} lines from stdin, write {\"ids\": [...]} lines"},
            {"--decode", "", "read {\"ids\": [...]} lines from stdin, write {\"text\": ...} lines"},
            {"--special", "", "add special tokens when encoding / keep them when decoding"},
        },
    .run = run_tokenize,
});

}  // namespace
