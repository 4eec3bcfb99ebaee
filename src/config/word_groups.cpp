#include "config/word_groups.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "core/error.h"

namespace vlm::config {
namespace {

std::string to_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

WordGroups WordGroups::parse(const std::vector<std::string>& lines) {
  WordGroups out;
  for (const std::string& line : lines) {
    std::istringstream in(to_lower(line));
    std::vector<std::string> group;
    for (std::string w; in >> w;) {
      if (std::find(group.begin(), group.end(), w) != group.end()) continue;
      if (out.index_.count(w) != 0)
        throw ConfigError("train.negative_words", "the word '" + w + "' is in more than one group");
      group.push_back(w);
    }
    if (group.size() < 2)
      throw ConfigError("train.negative_words", "the group '" + line + "' needs at least two different words",
                        "list interchangeable words on one line, e.g. \"red green blue\"");
    for (size_t i = 0; i < group.size(); ++i)
      out.index_[group[i]] = {static_cast<int>(out.groups.size()), static_cast<int>(i)};
    out.groups.push_back(std::move(group));
  }
  return out;
}

std::optional<std::pair<int, int>> WordGroups::find(std::string_view word) const {
  const auto it = index_.find(to_lower(std::string(word)));
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

}  // namespace vlm::config
