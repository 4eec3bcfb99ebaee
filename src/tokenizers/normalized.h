// A string being normalized / pre-tokenized that remembers, for each of its bytes, which byte
// range of the original input it came from, so token offsets point into the user's text.
// Follows tokenizers/src/tokenizer/normalizer.rs (NormalizedString, transform, split behaviours).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizers/unicode.h"

namespace vlm::tokenizers {

struct Range {
  uint32_t start = 0;
  uint32_t end = 0;
};

// One output character of a transformation and how it relates to the input:
// 0 replaces one input character, +1 is inserted, -n replaces one and removes n more.
struct CharChange {
  char32_t c;
  int change;
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// A [start, end) byte range of a string and whether it is a match of the split pattern.
struct Piece {
  size_t start;
  size_t end;
  bool is_match;
};

class NormalizedString {
 public:
  NormalizedString() = default;
  // `text` starts at byte `base` of the original input.
  explicit NormalizedString(std::string_view text, uint32_t base = 0);

  const std::string& get() const { return s_; }
  bool empty() const { return s_.empty(); }
  uint32_t origin_start() const { return origin_start_; }
  // The original byte range of normalized bytes [start, end) (end > start).
  Range original_range(size_t start, size_t end) const;
  // Original range of the whole string.
  Range original_span() const;

  // Replaces the characters of bytes [start, end) by `changes` (HF's transform_range);
  // `initial_removed` characters at the start of the range are dropped first.
  void transform_range(size_t start, size_t end, const std::vector<CharChange>& changes, size_t initial_removed);
  void transform(const std::vector<CharChange>& changes) { transform_range(0, s_.size(), changes, 0); }
  // Applies fn(char32_t c, std::vector<CharChange>& out) to every character.
  template <typename Fn>
  void map_chars(Fn&& fn);

  void prepend(std::string_view text);
  void lowercase();
  // Drops Mn characters (BERT's strip_accents), or every mark (Mn, Mc, Me) when `all_marks`
  // (the StripAccents normalizer).
  void filter_marks(bool all_marks = false);
  void strip(bool left, bool right);
  // Replaces every matched [start, end) piece (non-overlapping, ascending) with `content`.
  void replace(const std::vector<Piece>& matches, std::string_view content);

  // The substring of normalized bytes [start, end), keeping alignments.
  NormalizedString slice(size_t start, size_t end) const;
  // Splits by the pieces of a pattern (covering the string) with one of HF's behaviours.
  // Empty pieces are dropped.
  void split(std::vector<Piece> pieces, SplitBehavior behavior, std::vector<NormalizedString>& out) const;

  // Fast path for ByteLevel: maps every byte through `table` (byte -> code point), keeping alignment.
  void byte_level_map(const char32_t* table);

 private:
  std::string s_;
  std::vector<Range> align_;  // one per byte of s_
  uint32_t origin_start_ = 0;  // alignment used for text inserted at position 0
};

template <typename Fn>
void NormalizedString::map_chars(Fn&& fn) {
  std::vector<CharChange> changes;
  changes.reserve(s_.size());
  size_t i = 0;
  while (i < s_.size()) {
    fn(next_char(s_, i), changes);
  }
  transform(changes);
}

}  // namespace vlm::tokenizers
