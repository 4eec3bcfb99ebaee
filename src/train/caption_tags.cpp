#include "train/caption_tags.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <set>
#include <string_view>
#include <unordered_map>

namespace vlm::train {
namespace {

// English function words (not spatial ones: "left", "above" say something): never a tag,
// and a pair holding one is not a tag either.
constexpr std::array<std::string_view, 48> kStopWords = {
    "a", "about", "after", "an", "and", "are", "as", "at", "be", "been", "by", "can", "for", "from", "has",
    "have", "her", "his", "in", "into", "is", "it", "its", "of", "off", "on", "onto", "or", "our", "out",
    "some", "than", "that", "the", "their", "them", "then", "there", "these", "this", "those", "to", "up",
    "was", "were", "which", "while", "with"};

bool is_stop_word(std::string_view w) { return std::find(kStopWords.begin(), kStopWords.end(), w) != kStopWords.end(); }

// Runs of letters, lower-cased; bytes of multi-byte UTF-8 characters count as letters. Any
// other character but a space leaves an empty word, which (like a stop word) keeps the words
// on either side from pairing: "circle, blue" holds no pair.
std::vector<std::string> words_of(const std::string& caption) {
  std::vector<std::string> words;
  std::string word;
  for (const char c : caption) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalpha(u) || u >= 0x80) {
      word += static_cast<char>(u < 0x80 ? std::tolower(u) : u);
      continue;
    }
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
    if (!std::isspace(u)) words.emplace_back();
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

bool is_tag_word(std::string_view w) { return !w.empty() && !is_stop_word(w); }

}  // namespace

std::vector<std::string> CaptionTags::caption_tags(const std::string& caption) {
  const std::vector<std::string> words = words_of(caption);
  std::vector<std::string> tags;
  std::set<std::string, std::less<>> seen;
  auto add = [&](std::string tag) {
    if (seen.insert(tag).second) tags.push_back(std::move(tag));
  };
  for (size_t i = 0; i < words.size(); ++i) {
    if (!is_tag_word(words[i])) continue;
    add(words[i]);
    if (i + 1 < words.size() && is_tag_word(words[i + 1])) add(words[i] + " " + words[i + 1]);
  }
  return tags;
}

CaptionTags CaptionTags::build(const std::vector<std::string>& captions, int64_t max_tags, int64_t min_count) {
  std::unordered_map<std::string, int64_t> counts;
  for (const std::string& caption : captions)
    for (std::string& tag : caption_tags(caption)) ++counts[std::move(tag)];
  std::vector<std::pair<std::string, int64_t>> ranked;
  for (auto& [tag, n] : counts)
    if (n >= min_count) ranked.emplace_back(tag, n);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (static_cast<int64_t>(ranked.size()) > max_tags) ranked.resize(static_cast<size_t>(max_tags));
  CaptionTags out;
  for (const auto& [tag, n] : ranked) {
    out.index_.emplace(tag, out.size());
    out.tags_.push_back(tag);
    out.share_.push_back(static_cast<double>(n) / static_cast<double>(captions.size()));
  }
  return out;
}

at::Tensor CaptionTags::targets(const std::vector<std::string>& captions) const {
  at::Tensor out = torch::zeros({static_cast<int64_t>(captions.size()), size()});
  auto acc = out.accessor<float, 2>();
  for (size_t b = 0; b < captions.size(); ++b)
    for (const std::string& tag : caption_tags(captions[b]))
      if (const auto it = index_.find(tag); it != index_.end()) acc[static_cast<int64_t>(b)][it->second] = 1.0f;
  return out;  // (B, K)
}

at::Tensor CaptionTags::prior_logits() const {
  std::vector<float> logits;
  for (const double p : share_) {
    const double q = std::clamp(p, 1e-4, 1.0 - 1e-4);  // a tag in every caption would give +inf
    logits.push_back(static_cast<float>(std::log(q / (1.0 - q))));
  }
  return torch::tensor(logits);  // (K,)
}

}  // namespace vlm::train
