// Interfaces of the tokenizer pipeline's stages and their factories from tokenizer.json
// sections. Each factory refuses an unknown or unsupported "type" with an error naming it.
// Stages follow tokenizers/src/{normalizers,pre_tokenizers,models,processors,decoders}.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizers/normalized.h"
#include "tokenizers/regex.h"
#include "tokenizers/tokenizer.h"

namespace vlm::tokenizers {

using Json = nlohmann::json;

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& s) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `splits` by their sub-splits.
  virtual void pre_tokenize(std::vector<NormalizedString>& splits) const = 0;
};

struct Token {
  uint32_t id;
  uint32_t start;  // byte offsets in the pre-token's normalized string
  uint32_t end;
};

class Model {
 public:
  virtual ~Model() = default;
  // Appends the tokens of one pre-token.
  virtual void tokenize(std::string_view word, std::vector<Token>& out) const = 0;
  virtual std::optional<uint32_t> token_to_id(std::string_view token) const = 0;
  virtual const std::string* id_to_token(uint32_t id) const = 0;  // null when out of range
  virtual size_t vocab_size() const = 0;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual size_t added_tokens(bool is_pair) const = 0;
  // HF's process_encodings: adjusts and/or merges the sequence encodings.
  virtual void process(std::vector<Encoding>& encodings, bool add_special_tokens) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// `where` is "PATH: normalizer" and the like, for error messages.
std::unique_ptr<Normalizer> make_normalizer(const Json& j, const std::string& where);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& j, const std::string& where);
std::unique_ptr<Model> make_model(const Json& j, const std::string& where);
// `token_id` resolves a token string (post-processors name their special tokens).
std::unique_ptr<PostProcessor> make_post_processor(const Json& j, const std::string& where);
std::unique_ptr<Decoder> make_decoder(const Json& j, const std::string& where);

// GPT-2's byte -> printable code point table (and its inverse, -1 for others).
const char32_t* bytes_to_unicode();
int unicode_to_byte(char32_t c);

// Helpers for reading tokenizer.json with errors that name the place.
const Json& json_at(const Json& j, const char* key, const std::string& where);
std::string json_string(const Json& j, const char* key, const std::string& where);
bool json_bool(const Json& j, const char* key, bool fallback, const std::string& where);
Pattern json_pattern(const Json& j, const std::string& where);
// Trims ByteLevel-style leading/trailing spaces from token offsets (HF's process_offsets).
void trim_byte_level_offsets(Encoding& e, bool add_prefix_space);

}  // namespace vlm::tokenizers
