// Added and special tokens, matched in the text before the model as HF's AddedVocabulary does:
// leftmost-longest over the non-normalized tokens on the raw text, then over the normalized ones
// on the normalized pieces, honouring lstrip / rstrip / single_word.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizers/vocab.h"

namespace vlm::tokenizers {

struct AddedToken {
  std::string content;
  uint32_t id = 0;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

// A [start, end) byte range of the searched text, and the added token it is (if any).
struct AddedSplit {
  size_t start;
  size_t end;
  std::optional<uint32_t> id;
};

class AddedVocabulary {
 public:
  void add(AddedToken token);
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  std::optional<uint32_t> find(std::string_view content) const;
  const std::string* token(uint32_t id) const;
  bool is_special(uint32_t id) const;
  uint32_t max_id_plus_one() const { return max_id_plus_one_; }

  // Splits `text` into token and non-token pieces, among the tokens whose `normalized` flag is
  // `normalized_set` (HF's find_matches). An empty text gives one empty non-token piece.
  void split(std::string_view text, bool normalized_set, std::vector<AddedSplit>& out) const;
  bool has(bool normalized_set) const { return normalized_set ? !normalized_.empty() : !raw_.empty(); }

 private:
  struct Index {
    std::vector<uint32_t> by_first[256];  // token indices, longest first
    bool empty() const;
  };
  void index(Index& idx, size_t token_index);
  std::vector<AddedToken> tokens_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> by_content_;  // -> index in tokens_
  std::unordered_map<uint32_t, uint32_t> by_id_;
  Index raw_, normalized_;
  uint32_t max_id_plus_one_ = 0;
};

}  // namespace vlm::tokenizers
