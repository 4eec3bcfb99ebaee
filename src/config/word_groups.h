// Groups of interchangeable words (`train.negative_words`): one group per config line, words
// split on spaces, lower case. Stage 1 makes its hard negative captions from them
// (train/negative_captions.h); the config checks them here, before training starts.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vlm::config {

struct WordGroups {
  std::vector<std::vector<std::string>> groups;
  // Throws ConfigError (key `train.negative_words`) when a group has fewer than two different
  // words or a word sits in two groups.
  static WordGroups parse(const std::vector<std::string>& lines);
  bool empty() const { return groups.empty(); }
  // (group, index in the group) of a word, matched case-insensitively; nullopt when in none.
  std::optional<std::pair<int, int>> find(std::string_view word) const;

 private:
  std::map<std::string, std::pair<int, int>, std::less<>> index_;
};

}  // namespace vlm::config
