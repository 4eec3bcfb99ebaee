#include "train/negative_captions.h"

#include <cctype>
#include <random>
#include <string_view>

#include "core/random.h"

namespace vlm::train {
namespace {

struct Span {
  size_t begin, end;  // [begin, end) in the caption
  int group;
  int word;           // index in its group
};

// Every whole run of letters that is a word of some group, left to right.
std::vector<Span> find_words(const std::string& caption, const config::WordGroups& words) {
  std::vector<Span> spans;
  for (size_t i = 0; i < caption.size();) {
    if (!std::isalpha(static_cast<unsigned char>(caption[i]))) { ++i; continue; }
    size_t j = i;
    while (j < caption.size() && std::isalpha(static_cast<unsigned char>(caption[j]))) ++j;
    if (const auto hit = words.find(std::string_view(caption).substr(i, j - i)))
      spans.push_back({i, j, hit->first, hit->second});
    i = j;
  }
  return spans;
}

// Replaces the text of the given spans (sorted, disjoint) with `words`.
std::string rewrite(const std::string& caption, const std::vector<std::pair<Span, std::string>>& edits) {
  std::string out;
  size_t at = 0;
  for (const auto& [span, word] : edits) {
    out += caption.substr(at, span.begin - at);
    out += word;
    at = span.end;
  }
  return out + caption.substr(at);
}

}  // namespace

std::optional<std::string> negative_caption(const std::string& caption, const config::WordGroups& words, uint64_t seed) {
  const std::vector<Span> spans = find_words(caption, words);
  if (spans.empty()) return std::nullopt;
  std::vector<std::pair<size_t, size_t>> swaps;  // pairs of spans of one group with different words
  for (size_t a = 0; a < spans.size(); ++a)
    for (size_t b = a + 1; b < spans.size(); ++b)
      if (spans[a].group == spans[b].group && spans[a].word != spans[b].word) swaps.emplace_back(a, b);
  std::mt19937_64 rng(stable_hash(caption, seed));
  auto below = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const auto& groups = words.groups;
  if (!swaps.empty() && rng() % 2 == 0) {
    const auto [a, b] = swaps[below(swaps.size())];
    return rewrite(caption, {{spans[a], caption.substr(spans[b].begin, spans[b].end - spans[b].begin)},
                             {spans[b], caption.substr(spans[a].begin, spans[a].end - spans[a].begin)}});
  }
  const Span& s = spans[below(spans.size())];
  const auto& group = groups[static_cast<size_t>(s.group)];
  size_t other = below(group.size() - 1);  // any word of the group but its own
  if (other >= static_cast<size_t>(s.word)) ++other;
  return rewrite(caption, {{s, group[other]}});
}

}  // namespace vlm::train
