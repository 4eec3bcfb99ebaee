// The tokenizer's internals shared by tokenizer.cpp (pipeline), loader.cpp (tokenizer.json and
// tokenizer_config.json) and formats.cpp (vocab.txt, vocab.json + merges.txt, word-level builder).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "tokenizers/added_tokens.h"
#include "tokenizers/components.h"
#include "tokenizers/tokenizer.h"

namespace vlm::tokenizers {

struct TokenizerImpl {
  std::string origin;
  Json doc;  // the tokenizer.json document, kept for save()
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  AddedVocabulary added;
  std::optional<TruncationOptions> truncation;  // tokenizer.json's own "truncation"
  std::optional<PaddingOptions> padding;        // tokenizer.json's own "padding"
  std::optional<int64_t> bos_id, eos_id, pad_id, unk_id;
  std::optional<std::string> chat_template;

  std::optional<uint32_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(uint32_t id) const;
  // One sequence through added tokens, normalizer, pre-tokenizer and model.
  Encoding encode_sequence(std::string_view text, int64_t type_id) const;
};

// Parses a tokenizer.json document (origin names it in errors).
std::shared_ptr<TokenizerImpl> load_tokenizer_json(Json doc, const std::string& origin);
// Reads bos/eos/pad/unk tokens and chat_template from a tokenizer_config.json (if it exists).
void apply_tokenizer_config(TokenizerImpl& impl, const std::string& config_path);
// Reads a whole file, or throws FileError.
std::string read_file(const std::string& path);
// tokenizer.json documents equivalent to transformers' slow->fast conversions.
Json bert_json_from_vocab_txt(const std::string& vocab_path, const Json& config);
Json gpt2_json_from_vocab_merges(const std::string& vocab_path, const std::string& merges_path, const Json& config);

}  // namespace vlm::tokenizers
