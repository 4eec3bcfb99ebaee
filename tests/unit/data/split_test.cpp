// The stable hash split: fraction honoured, seed matters, and growing the data moves nobody.
#include <gtest/gtest.h>

#include "core/random.h"
#include "data/sources.h"
#include "data/split.h"

namespace vlm::data {
namespace {

Dataset make(int n, int start = 0) {
  Dataset ds;
  for (int i = start; i < start + n; ++i) {
    SampleRef s;
    s.key = str("images/", i, ".jpg");
    ds.samples.push_back(s);
  }
  return ds;
}

TEST(Split, FractionIsRoughlyHonoured) {
  const auto split = split_dataset(make(10000), 0.1, 42);
  EXPECT_EQ(split.train.size() + split.validation.size(), 10000u);
  EXPECT_NEAR(static_cast<double>(split.validation.size()) / 10000.0, 0.1, 0.015);
}

TEST(Split, AddingSamplesDoesNotMoveExistingOnes) {
  const Dataset small = make(500);
  Dataset big = make(2000);
  const auto a = split_dataset(small, 0.2, 7);
  const auto b = split_dataset(big, 0.2, 7);
  for (int64_t i : a.validation) EXPECT_TRUE(in_validation(big.samples[static_cast<size_t>(i)].key, 0.2, 7));
  // The first 500 of the bigger set are the same samples, on the same side.
  std::vector<int64_t> b_val_prefix;
  for (int64_t i : b.validation)
    if (i < 500) b_val_prefix.push_back(i);
  EXPECT_EQ(a.validation, b_val_prefix);
}

TEST(Split, SeedChangesTheSplitAndHashIsPinned) {
  const auto a = split_dataset(make(1000), 0.5, 1);
  const auto b = split_dataset(make(1000), 0.5, 2);
  EXPECT_NE(a.validation, b.validation);
  // Pinned values: a change to the hash would silently reshuffle every existing run's split.
  EXPECT_EQ(stable_hash("", 0), stable_hash("", 0));
  EXPECT_NE(stable_hash("a", 0), stable_hash("b", 0));
  EXPECT_EQ(stable_hash("000000001", 42), 0xfdd17728553eecefULL);
  EXPECT_THROW(split_dataset(make(3), 1.0, 0), ConfigError);
  EXPECT_TRUE(split_dataset(make(50), 0.0, 0).validation.empty());
}

}  // namespace
}  // namespace vlm::data
