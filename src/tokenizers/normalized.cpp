// NormalizedString: per-byte alignment bookkeeping through transformations and splits, with
// the exact alignment rules of HF tokenizers' transform_range (inserted characters share the
// alignment of the byte before them) so offsets match the reference library.
#include "tokenizers/normalized.h"

#include <algorithm>

#include "core/error.h"

namespace vlm::tokenizers {

NormalizedString::NormalizedString(std::string_view text, uint32_t base) : s_(text), origin_start_(base) {
  align_.resize(s_.size());
  size_t i = 0;
  while (i < s_.size()) {
    const size_t n = utf8_len_from_lead(static_cast<unsigned char>(s_[i]));
    const Range r{static_cast<uint32_t>(base + i), static_cast<uint32_t>(base + i + n)};
    for (size_t k = 0; k < n; ++k) align_[i + k] = r;
    i += n;
  }
}

Range NormalizedString::original_range(size_t start, size_t end) const {
  if (start >= end) return {origin_start_, origin_start_};
  return {align_[start].start, align_[end - 1].end};
}

Range NormalizedString::original_span() const {
  if (s_.empty()) return {origin_start_, origin_start_};
  return original_range(0, s_.size());
}

void NormalizedString::transform_range(size_t start, size_t end, const std::vector<CharChange>& changes,
                                       size_t initial_removed) {
  std::string out;
  std::vector<Range> out_align;
  out.reserve(s_.size() - (end - start) + changes.size() * 2);
  out.append(s_, 0, start);
  out_align.assign(align_.begin(), align_.begin() + static_cast<std::ptrdiff_t>(start));

  size_t cursor = start;  // next unconsumed byte of the old string within [start, end)
  for (size_t k = 0; k < initial_removed && cursor < end; ++k)
    cursor += utf8_len_from_lead(static_cast<unsigned char>(s_[cursor]));
  for (const CharChange& ch : changes) {
    Range a;
    if (ch.change > 0) {
      a = cursor == 0 ? Range{origin_start_, origin_start_} : align_[cursor - 1];
    } else {
      a = cursor < align_.size() ? align_[cursor] : (cursor == 0 ? Range{origin_start_, origin_start_} : align_[cursor - 1]);
      if (cursor < end) cursor += utf8_len_from_lead(static_cast<unsigned char>(s_[cursor]));
      for (int r = 0; r < -ch.change && cursor < end; ++r)
        cursor += utf8_len_from_lead(static_cast<unsigned char>(s_[cursor]));
    }
    const size_t before = out.size();
    append_utf8(out, ch.c);
    out_align.insert(out_align.end(), out.size() - before, a);
  }
  out.append(s_, end, std::string::npos);
  out_align.insert(out_align.end(), align_.begin() + static_cast<std::ptrdiff_t>(end), align_.end());
  s_ = std::move(out);
  align_ = std::move(out_align);
}

void NormalizedString::prepend(std::string_view text) {
  // HF: the first new character replaces the first character (taking its alignment), the other
  // new characters and the old first character are insertions sharing that alignment.
  if (s_.empty() || text.empty()) return;
  size_t i = 0;
  const char32_t first = next_char(s_, i);
  std::vector<CharChange> changes;
  size_t j = 0;
  bool head = true;
  while (j < text.size()) {
    changes.push_back({next_char(text, j), head ? 0 : 1});
    head = false;
  }
  changes.push_back({first, 1});
  transform_range(0, i, changes, 0);
}

void NormalizedString::lowercase() {
  bool ascii_upper = false, non_ascii = false;
  for (const char ch : s_) {
    const auto b = static_cast<unsigned char>(ch);
    if (b >= 0x80) non_ascii = true;
    if (b >= 'A' && b <= 'Z') ascii_upper = true;
  }
  if (!non_ascii) {  // same lengths: alignments unchanged
    if (ascii_upper)
      for (char& ch : s_)
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
    return;
  }
  map_chars([](char32_t c, std::vector<CharChange>& out) {
    char32_t low[2];
    const int n = to_lowercase(c, low);
    for (int k = 0; k < n; ++k) out.push_back({low[k], k > 0 ? 1 : 0});
  });
}

void NormalizedString::filter_marks(bool all_marks) {
  // HF's filter: a removed character is folded into the character before it (change -1).
  std::vector<CharChange> changes;
  size_t i = 0;
  size_t removed_at_start = 0;
  while (i < s_.size()) {
    const char32_t c = next_char(s_, i);
    if (all_marks ? is_combining_mark(c) : is_nonspacing_mark(c)) {
      if (changes.empty())
        ++removed_at_start;
      else
        --changes.back().change;
    } else {
      changes.push_back({c, 0});
    }
  }
  transform_range(0, s_.size(), changes, removed_at_start);
}

void NormalizedString::strip(bool left, bool right) {
  size_t begin = 0, end = s_.size();
  if (left) {
    size_t i = 0;
    while (i < s_.size()) {
      size_t j = i;
      if (!is_whitespace(next_char(s_, j))) break;
      i = j;
    }
    begin = i;
  }
  if (right) {
    while (end > begin) {
      size_t k = end - 1;
      while (k > begin && (static_cast<unsigned char>(s_[k]) & 0xC0) == 0x80) --k;
      size_t j = k;
      if (!is_whitespace(next_char(s_, j))) break;
      end = k;
    }
  }
  if (begin == 0 && end == s_.size()) return;
  const uint32_t new_origin = begin < align_.size() ? align_[begin].start : origin_start_;
  s_ = s_.substr(begin, end - begin);
  align_ = std::vector<Range>(align_.begin() + static_cast<std::ptrdiff_t>(begin),
                              align_.begin() + static_cast<std::ptrdiff_t>(end));
  origin_start_ = new_origin;
}

void NormalizedString::replace(const std::vector<Piece>& matches, std::string_view content) {
  std::vector<CharChange> inserted;
  size_t j = 0;
  while (j < content.size()) inserted.push_back({next_char(content, j), 1});
  std::ptrdiff_t shift = 0;
  for (const Piece& m : matches) {
    const size_t start = static_cast<size_t>(static_cast<std::ptrdiff_t>(m.start) + shift);
    const size_t end = static_cast<size_t>(static_cast<std::ptrdiff_t>(m.end) + shift);
    size_t removed = 0;
    for (size_t i = start; i < end;) {
      next_char(s_, i);
      ++removed;
    }
    const size_t before = s_.size();
    transform_range(start, end, inserted, removed);
    shift += static_cast<std::ptrdiff_t>(s_.size()) - static_cast<std::ptrdiff_t>(before);
  }
}

NormalizedString NormalizedString::slice(size_t start, size_t end) const {
  NormalizedString out;
  out.s_ = s_.substr(start, end - start);
  out.align_.assign(align_.begin() + static_cast<std::ptrdiff_t>(start),
                    align_.begin() + static_cast<std::ptrdiff_t>(end));
  out.origin_start_ = start < align_.size() ? align_[start].start : (align_.empty() ? origin_start_ : align_.back().end);
  return out;
}

void NormalizedString::split(std::vector<Piece> pieces, SplitBehavior behavior,
                             std::vector<NormalizedString>& out) const {
  std::vector<Piece> merged;
  merged.reserve(pieces.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const Piece& p : pieces)
        if (!p.is_match) merged.push_back(p);
      break;
    case SplitBehavior::kIsolated:
      merged = std::move(pieces);
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Piece& p : pieces) {
        if (p.is_match && !previous_match && !merged.empty())
          merged.back().end = p.end;
        else
          merged.push_back(p);
        previous_match = p.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
        if (it->is_match && !previous_match && !merged.empty())
          merged.back().start = it->start;
        else
          merged.push_back(*it);
        previous_match = it->is_match;
      }
      std::reverse(merged.begin(), merged.end());
      break;
    case SplitBehavior::kContiguous:
      for (size_t k = 0; k < pieces.size(); ++k) {
        const Piece& p = pieces[k];
        if (k > 0 && p.is_match == previous_match)
          merged.back().end = p.end;
        else
          merged.push_back(p);
        previous_match = p.is_match;
      }
      break;
  }
  for (const Piece& p : merged)
    if (p.end > p.start) out.push_back(slice(p.start, p.end));
}

void NormalizedString::byte_level_map(const char32_t* table) {
  std::string out;
  std::vector<Range> out_align;
  out.reserve(s_.size() * 2);
  out_align.reserve(s_.size() * 2);
  for (size_t i = 0; i < s_.size(); ++i) {
    const size_t before = out.size();
    append_utf8(out, table[static_cast<unsigned char>(s_[i])]);
    out_align.insert(out_align.end(), out.size() - before, align_[i]);
  }
  s_ = std::move(out);
  align_ = std::move(out_align);
}

}  // namespace vlm::tokenizers
