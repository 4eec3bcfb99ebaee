// NegCLIP-style hard negative captions: one word replaced by another of its group, or two
// different words of one group swapped; punctuation and spacing kept; a pure function of
// (caption, seed); nothing when no group word occurs.
#include "train/negative_captions.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <map>
#include <sstream>

#include "core/error.h"

namespace vlm::train {
namespace {

const config::WordGroups& groups() {
  static const config::WordGroups g =
      config::WordGroups::parse({"circle square triangle", "Red GREEN blue red"});  // case and repeats folded
  return g;
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// "replace" or "swap" when `twin` differs from `caption` in exactly one such edit, else "".
std::string edit_kind(const std::string& caption, const std::string& twin) {
  const auto a = words(caption), b = words(twin);
  if (a.size() != b.size()) return "";
  std::vector<size_t> diff;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) diff.push_back(i);
  auto bare = [](std::string w) {  // the word without trailing punctuation, lower case
    while (!w.empty() && !std::isalpha(static_cast<unsigned char>(w.back()))) w.pop_back();
    for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return w;
  };
  auto same_group = [&](const std::string& x, const std::string& y) {
    const auto gx = groups().find(bare(x)), gy = groups().find(bare(y));
    return gx && gy && gx->first == gy->first && gx->second != gy->second;
  };
  if (diff.size() == 1 && same_group(a[diff[0]], b[diff[0]])) return "replace";
  if (diff.size() == 2 && bare(a[diff[0]]) == bare(b[diff[1]]) && bare(a[diff[1]]) == bare(b[diff[0]]) &&
      same_group(a[diff[0]], a[diff[1]]))
    return "swap";
  return "";
}

TEST(WordGroups, ParseFoldsCaseAndRepeats) {
  ASSERT_EQ(groups().groups.size(), 2u);
  EXPECT_EQ(groups().groups[1], (std::vector<std::string>{"red", "green", "blue"}));
  EXPECT_EQ(groups().find("Blue"), (std::pair<int, int>{1, 2}));
  EXPECT_FALSE(groups().find("purple").has_value());
  EXPECT_THROW(config::WordGroups::parse({"red red"}), ConfigError);  // one distinct word
  EXPECT_THROW(config::WordGroups::parse({"red green", "green blue"}), ConfigError);
  EXPECT_TRUE(config::WordGroups::parse({}).empty());
}

TEST(NegativeCaption, NoGroupWordGivesNone) {
  EXPECT_FALSE(negative_caption("a photo of a dog on the grass", groups(), 1).has_value());
  EXPECT_FALSE(negative_caption("", groups(), 1).has_value());
  EXPECT_FALSE(negative_caption("circles and reddish squares", groups(), 1).has_value());  // whole words only
}

TEST(NegativeCaption, OneReplacementOrOneSwapWithPunctuationKept) {
  const std::string caption = "two shapes: a small red square, and a large Blue circle.";
  std::map<std::string, int> kinds;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const auto twin = negative_caption(caption, groups(), seed);
    ASSERT_TRUE(twin.has_value());
    const std::string kind = edit_kind(caption, *twin);
    ASSERT_FALSE(kind.empty()) << "not one replacement or swap: '" << *twin << "'";
    ++kinds[kind];
    EXPECT_EQ(twin->substr(0, 13), "two shapes: a") << *twin;
    EXPECT_EQ(twin->back(), '.');
    EXPECT_NE(twin->find(','), std::string::npos) << *twin;
    EXPECT_EQ(negative_caption(caption, groups(), seed), twin) << "not a function of (caption, seed)";
  }
  // Both kinds are drawn, each about half the time (binomial(200, 0.5): within 60..140 always in practice).
  EXPECT_GT(kinds["replace"], 60);
  EXPECT_GT(kinds["swap"], 60);
}

TEST(NegativeCaption, EqualWordsAreNeverSwapped) {
  // "red ... red": swapping them would give the caption back, so only replacements happen.
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const auto twin = negative_caption("a red circle and a red triangle", groups(), seed);
    ASSERT_TRUE(twin.has_value());
    EXPECT_NE(*twin, "a red circle and a red triangle");
    EXPECT_NE(edit_kind("a red circle and a red triangle", *twin), "") << *twin;
  }
}

TEST(NegativeCaption, ReplacementsReachEveryOtherWordOfTheGroup) {
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 100; ++seed) seen.insert(*negative_caption("a square", groups(), seed));
  EXPECT_EQ(seen, (std::set<std::string>{"a circle", "a triangle"}));
}

}  // namespace
}  // namespace vlm::train
