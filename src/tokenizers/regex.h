// Pattern matching for normalizers and pre-tokenizers: PCRE2 with its JIT (Unicode properties,
// lookahead and inline flags, which std::regex lacks) for Regex patterns and plain substring
// search for String patterns. HF runs Oniguruma; \s and \w are rewritten to Oniguruma's sets.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/normalized.h"

namespace vlm::tokenizers {

class Pattern {
 public:
  // A regular expression (HF's {"Regex": ...}); throws vlm::Error with PCRE2's message.
  static Pattern regex(const std::string& expression);
  // A literal string (HF's {"String": ...}).
  static Pattern literal(const std::string& text);

  // Pieces covering `text` in order, matches flagged (HF's Pattern::find_matches); empty matches
  // are skipped. An empty text gives one empty non-match piece.
  void find_pieces(std::string_view text, std::vector<Piece>& out) const;
  // The matches only.
  std::vector<Piece> find_matches(std::string_view text) const;
  const std::string& source() const { return source_; }
  bool is_regex() const { return code_ != nullptr; }

 private:
  struct Code;
  std::shared_ptr<Code> code_;  // null for a literal
  std::string source_;
};

}  // namespace vlm::tokenizers
