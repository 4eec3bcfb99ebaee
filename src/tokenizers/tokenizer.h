// Public tokenizer API: loads Hugging Face `tokenizer.json` files (and BERT vocab.txt / GPT-2
// vocab.json+merges.txt folders) and reproduces the ids of HF's Rust `tokenizers` library:
// added tokens -> normalizer -> pre-tokenizer -> model -> post-processor, and decoders back.
// Implemented here rather than linked because no C++ library loads tokenizer.json id-exactly
// without a Rust toolchain; the pipeline follows tokenizers/src/tokenizer/mod.rs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vlm::tokenizers {

// One encoded sequence (or pair), as HF's `Encoding`.
struct Encoding {
  std::vector<int64_t> ids;
  std::vector<int64_t> type_ids;             // 0 for the first sequence, 1 for the pair
  std::vector<std::string> tokens;           // the vocabulary strings of `ids`
  std::vector<int64_t> attention_mask;       // 1 for real tokens, 0 for padding
  std::vector<int64_t> special_tokens_mask;  // 1 for tokens added by the post-processor / padding
  // Byte offsets [start, end) into the input text (of the sequence given by sequence_ids).
  std::vector<std::pair<size_t, size_t>> offsets;
  std::vector<int32_t> sequence_ids;         // 0, 1, or -1 for special tokens and padding
  size_t size() const { return ids.size(); }
};

enum class Side { kRight, kLeft };

struct PaddingOptions {
  Side side = Side::kRight;
  std::optional<size_t> length;  // fixed length; nullopt pads to the longest of the batch
  size_t pad_to_multiple_of = 0;  // 0: no rounding
  std::optional<int64_t> pad_id;  // nullopt: the tokenizer's pad token (then eos), else an error
  int64_t pad_type_id = 0;
};

enum class TruncationStrategy { kLongestFirst, kOnlyFirst, kOnlySecond };

struct TruncationOptions {
  size_t max_length = 512;  // including the special tokens the post-processor adds
  Side side = Side::kRight;
  TruncationStrategy strategy = TruncationStrategy::kLongestFirst;
};

struct EncodeOptions {
  bool add_special_tokens = true;
  std::optional<TruncationOptions> truncation;
  std::optional<PaddingOptions> padding;
};

struct TokenizerImpl;

class Tokenizer {
 public:
  // A model folder (tokenizer.json; else vocab.txt for BERT; else vocab.json + merges.txt for
  // GPT-2 style BPE; tokenizer_config.json is read when present) or a tokenizer.json file.
  static Tokenizer from_path(const std::string& folder_or_file);
  // A tokenizer.json document; `origin` names it in errors.
  static Tokenizer from_json_string(std::string_view json, const std::string& origin = "<tokenizer.json>");

  Encoding encode(std::string_view text, bool add_special_tokens = true) const;
  Encoding encode_pair(std::string_view first, std::string_view second, bool add_special_tokens = true) const;
  // With options: truncation applies per sequence, padding to the longest of the batch or a length.
  Encoding encode(std::string_view text, const EncodeOptions& options) const;
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, const EncodeOptions& options = {}) const;
  std::vector<Encoding> encode_pair_batch(const std::vector<std::pair<std::string, std::string>>& pairs,
                                          const EncodeOptions& options = {}) const;

  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;
  std::vector<std::string> decode_batch(const std::vector<std::vector<int64_t>>& batch,
                                        bool skip_special_tokens = true) const;

  std::optional<int64_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int64_t id) const;  // throws vlm::Error for an id outside the vocabulary
  // Model vocabulary plus the added tokens it lacks, or the highest id + 1 if that is larger
  // (equal to HF's get_vocab_size(with_added_tokens=true) for contiguous vocabularies).
  int64_t vocab_size() const;
  bool is_special_id(int64_t id) const;

  // From tokenizer_config.json (bos_token, eos_token, pad_token, unk_token) when present, else
  // from the tokenizer's own special tokens where they are known (BERT's [PAD], GPT-2's <|endoftext|>).
  std::optional<int64_t> pad_token_id() const;
  std::optional<int64_t> eos_token_id() const;
  std::optional<int64_t> bos_token_id() const;
  std::optional<int64_t> unk_token_id() const;
  // tokenizer_config.json's chat_template, if any.
  const std::optional<std::string>& chat_template() const;
  // Where it was loaded from (a file or folder), for messages.
  const std::string& origin() const;

  // Writes a tokenizer.json that HF's library loads to the same tokenizer.
  void save(const std::string& path) const;
  std::string to_json_string() const;

 private:
  explicit Tokenizer(std::shared_ptr<const TokenizerImpl> impl) : impl_(std::move(impl)) {}
  friend Tokenizer build_word_level(const std::vector<std::string>&, const std::vector<std::string>&);
  std::shared_ptr<const TokenizerImpl> impl_;
};

// A small word-level tokenizer for training tiny models from scratch: Lowercase normalizer,
// a Whitespace pre-tokenizer (\w+|[^\w\s]+), WordLevel over every word of `corpus`, with ids
// 0 = [UNK], 1 = [PAD], then `special_tokens` (added as special tokens), then words by
// decreasing frequency (ties alphabetically).
Tokenizer build_word_level(const std::vector<std::string>& corpus, const std::vector<std::string>& special_tokens);

}  // namespace vlm::tokenizers
