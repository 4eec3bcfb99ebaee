// AddedVocabulary matching (tokenizers/src/tokenizer/added_vocabulary.rs): a first-byte index
// replaces the Aho-Corasick automaton (added vocabularies are small), keeping its
// leftmost-longest semantics, then HF's single_word, lstrip and rstrip rules.
#include "tokenizers/added_tokens.h"

#include <algorithm>
#include <cstring>

#include "tokenizers/unicode.h"

namespace vlm::tokenizers {

namespace {

bool is_word_char(char32_t c) { return is_alphanumeric(c) || c == '_'; }

char32_t last_char(std::string_view s) {
  size_t k = s.size() - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  return next_char(s, k);
}

}  // namespace

bool AddedVocabulary::Index::empty() const {
  for (const auto& v : by_first)
    if (!v.empty()) return false;
  return true;
}

void AddedVocabulary::index(Index& idx, size_t token_index) {
  auto& list = idx.by_first[static_cast<unsigned char>(tokens_[token_index].content[0])];
  list.push_back(static_cast<uint32_t>(token_index));
  std::stable_sort(list.begin(), list.end(), [&](uint32_t a, uint32_t b) {
    return tokens_[a].content.size() > tokens_[b].content.size();
  });
}

void AddedVocabulary::add(AddedToken token) {
  if (token.content.empty()) return;
  const auto existing = by_content_.find(token.content);
  if (existing != by_content_.end()) {  // a later definition replaces the earlier one
    AddedToken& old = tokens_[existing->second];
    by_id_.erase(old.id);
    const bool was_normalized = old.normalized;
    old = std::move(token);
    by_id_[old.id] = existing->second;
    max_id_plus_one_ = std::max(max_id_plus_one_, old.id + 1);
    if (was_normalized != old.normalized) {
      for (auto* idx : {&raw_, &normalized_})
        for (auto& list : idx->by_first) list.erase(std::remove(list.begin(), list.end(), existing->second), list.end());
      index(old.normalized ? normalized_ : raw_, existing->second);
    }
    return;
  }
  const auto index_of = static_cast<uint32_t>(tokens_.size());
  max_id_plus_one_ = std::max(max_id_plus_one_, token.id + 1);
  by_content_[token.content] = index_of;
  by_id_[token.id] = index_of;
  const bool normalized = token.normalized;
  tokens_.push_back(std::move(token));
  index(normalized ? normalized_ : raw_, index_of);
}

std::optional<uint32_t> AddedVocabulary::find(std::string_view content) const {
  const auto it = by_content_.find(content);
  if (it == by_content_.end()) return std::nullopt;
  return tokens_[it->second].id;
}

const std::string* AddedVocabulary::token(uint32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second].content;
}

bool AddedVocabulary::is_special(uint32_t id) const {
  const auto it = by_id_.find(id);
  return it != by_id_.end() && tokens_[it->second].special;
}

void AddedVocabulary::split(std::string_view s, bool normalized_set, std::vector<AddedSplit>& out) const {
  if (s.empty()) {
    out.push_back({0, 0, std::nullopt});
    return;
  }
  const Index& idx = normalized_set ? normalized_ : raw_;
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    const auto& candidates = idx.by_first[static_cast<unsigned char>(s[pos])];
    const AddedToken* hit = nullptr;
    for (const uint32_t c : candidates) {
      const std::string& content = tokens_[c].content;
      if (content.size() <= s.size() - pos && std::memcmp(s.data() + pos, content.data(), content.size()) == 0) {
        hit = &tokens_[c];
        break;
      }
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + hit->content.size();
    pos = stop;  // the automaton continues after the raw match
    if (hit->single_word) {
      const bool start_space = start == 0 || !is_word_char(last_char(s.substr(0, start)));
      size_t k = stop;
      const bool stop_space = stop == s.size() || !is_word_char(next_char(s, k));
      if (!start_space || !stop_space) continue;
    }
    if (hit->lstrip) {
      size_t new_start = start;
      while (new_start > 0) {
        size_t k = new_start - 1;
        while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t j = k;
        if (!is_whitespace(next_char(s, j))) break;
        new_start = k;
      }
      start = std::max(new_start, start_offset);
    }
    if (hit->rstrip) {
      while (stop < s.size()) {
        size_t j = stop;
        if (!is_whitespace(next_char(s, j))) break;
        stop = j;
      }
    }
    if (start_offset < start) out.push_back({start_offset, start, std::nullopt});
    out.push_back({start, stop, hit->id});
    start_offset = stop;
  }
  if (start_offset != s.size()) out.push_back({start_offset, s.size(), std::nullopt});
}

}  // namespace vlm::tokenizers
