// core/random.h: the draws that replaced std:: distributions are the same numbers, the seed streams
// keep the seeds the code used before they were named, and the splitmix64 stream matches the
// published reference values.
#include "core/random.h"

#include <gtest/gtest.h>

#include <random>

namespace vlm {
namespace {

// splitmix64 from state 1234567 stepped by the golden gamma: the reference implementation's
// first outputs (Vigna's splitmix64.c).
TEST(Random, SplitMix64MatchesTheReference) {
  uint64_t state = 1234567;
  const uint64_t expected[] = {6457827717110365317ull, 3203168211198807973ull, 9817491932198370423ull};
  for (const uint64_t e : expected) {
    EXPECT_EQ(splitmix64(state), e);
    state += kGoldenGamma;
  }
}

#if defined(__GLIBCXX__)
// unit_from_u64 over std::mt19937_64 is std::uniform_real_distribution<double>(0, 1) over it, draw for
// draw, in libstdc++ (the library every build of this project uses), so stage 2's prompt and
// question choices did not change when the distribution was dropped.
TEST(Random, UnitFromU64IsLibstdcxxUniformReal) {
  std::mt19937_64 a(42), b(42);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (int i = 0; i < 200000; ++i) ASSERT_EQ(unit_from_u64(a()), uniform(b)) << "draw " << i;
  EXPECT_LT(unit_from_u64(~uint64_t{0}), 1.0);  // 2^64 - 1 rounds to 2^64: clamped below 1
}
#endif

TEST(Random, UnitsAreInRange) {
  EXPECT_EQ(unit_from_top53(0), 0.0);
  EXPECT_LT(unit_from_top53(~uint64_t{0}), 1.0);
  EXPECT_EQ(unit_from_top53(uint64_t{1} << 63), 0.5);
  SplitMix rng(7);
  for (int i = 0; i < 1000; ++i) {
    const int k = rng.below(5);
    EXPECT_GE(k, 0);
    EXPECT_LT(k, 5);
  }
}

// The named streams give the seeds the literal formulas gave (the demo's draws are unchanged).
TEST(Random, SeedStreamsKeepTheirSeeds) {
  const uint64_t seed = 12345;
  EXPECT_EQ(seed_stream::stage2_targets(seed, 7), seed * 1315423911ull + 7);
  EXPECT_EQ(seed_stream::lm_rows(seed, 7), seed * 2654435761ull + 7 * 97);
  EXPECT_EQ(seed_stream::demo_dataset(seed, 2), seed * 3 + 2);
  EXPECT_EQ(seed_stream::itm_negative_texts(seed), seed * 2);
  EXPECT_EQ(seed_stream::itm_negative_images(seed), seed * 2 + 1);
  EXPECT_EQ(seed_stream::loader_caption_pick(seed, 3), seed ^ (kGoldenGamma * 4));
  EXPECT_EQ(stable_hash("000000001", 42), 0xfdd17728553eecefULL);  // pinned: it decides data splits
}

}  // namespace
}  // namespace vlm
