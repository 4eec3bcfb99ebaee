// Retrieval metrics on constructed similarity matrices whose ranks are worked out by hand:
// ties (pessimistic), several captions per image, identical-caption hits.
#include <cmath>

#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/retrieval.h"

namespace vlm::eval {
namespace {

TEST(Retrieval, IdentityIsPerfect) {
  const std::vector<float> sim = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  const std::vector<int64_t> map = {0, 1, 2};
  const auto m = compute_retrieval(sim, 3, 3, map);
  EXPECT_EQ(m.i2t_r1, 1.0);
  EXPECT_EQ(m.t2i_r1, 1.0);
  EXPECT_EQ(m.i2t_median_rank, 1.0);
  EXPECT_EQ(m.t2i_mean_rank, 1.0);
}

TEST(Retrieval, TiesArePessimistic) {
  // All scores equal: every wrong candidate ranks ahead, so each correct item is last.
  const std::vector<float> sim(4 * 4, 0.5f);
  const std::vector<int64_t> map = {0, 1, 2, 3};
  const auto m = compute_retrieval(sim, 4, 4, map);
  EXPECT_EQ(m.i2t_r1, 0.0);
  EXPECT_EQ(m.i2t_r5, 1.0);
  EXPECT_EQ(m.i2t_median_rank, 4.0);
  EXPECT_EQ(m.t2i_mean_rank, 4.0);
}

TEST(Retrieval, SeveralCaptionsPerImage) {
  // 2 images, 5 captions: t0,t1,t2 -> image 0; t3,t4 -> image 1.
  //            t0   t1   t2   t3   t4
  // image 0: 0.1  0.9  0.2  0.95 0.3    best own caption t1 (0.9); t3 ahead -> rank 2
  // image 1: 0.8  0.1  0.7  0.2  0.6    best own t4 (0.6); t0 0.8, t2 0.7 ahead -> rank 3
  const std::vector<float> sim = {0.1f, 0.9f, 0.2f, 0.95f, 0.3f, 0.8f, 0.1f, 0.7f, 0.2f, 0.6f};
  const std::vector<int64_t> map = {0, 0, 0, 1, 1};
  const RetrievalRanks r = retrieval_ranks(sim, 2, 5, map);
  EXPECT_EQ(r.i2t, (std::vector<int64_t>{2, 3}));
  // t2i: t0 (own 0.1 vs 0.8) 2; t1 1; t2 (0.2 vs 0.7) 2; t3 (own 0.2 vs 0.95) 2; t4 (0.6 vs 0.3) 1.
  EXPECT_EQ(r.t2i, (std::vector<int64_t>{2, 1, 2, 2, 1}));
  const auto m = compute_retrieval(sim, 2, 5, map);
  EXPECT_EQ(m.i2t_r1, 0.0);
  EXPECT_DOUBLE_EQ(m.t2i_r1, 2.0 / 5.0);
  EXPECT_EQ(m.t2i_r5, 1.0);
  EXPECT_DOUBLE_EQ(m.i2t_median_rank, 2.5);
  EXPECT_DOUBLE_EQ(m.t2i_mean_rank, 8.0 / 5.0);
  EXPECT_EQ(m.num_texts, 5);
}

TEST(Retrieval, RecallAtTenOfTwelve) {
  // One image whose only caption scores below 10 wrong ones: rank 11, found at no K <= 10.
  std::vector<float> sim(12, 0.9f);
  sim[11] = 0.1f;
  std::vector<int64_t> map(12, 1);
  map[11] = 0;
  std::vector<float> two(sim);
  two.insert(two.end(), 12, 0.0f);  // image 1 holds the other 11 captions, all at 0
  const auto m = compute_retrieval(two, 2, 12, map);
  const RetrievalRanks r = retrieval_ranks(two, 2, 12, map);
  EXPECT_EQ(r.i2t[0], 12);  // 11 wrong captions at 0.9 >= 0.1
  EXPECT_EQ(m.i2t_r10, 0.5);
}

TEST(Retrieval, IdenticalCaptionCountsAsHit) {
  // Two scenes share the caption "a red circle"; image 0 retrieves image 1's copy first.
  const std::vector<float> sim = {0.5f, 0.9f, 0.1f, 0.2f, 0.8f, 0.3f};
  const std::vector<int64_t> map = {0, 1, 1};
  const std::vector<std::string> text = {"a red circle", "a red circle", "a blue star"};
  EXPECT_EQ(retrieval_ranks(sim, 2, 3, map).i2t[0], 2);
  const RetrievalRanks r = retrieval_ranks(sim, 2, 3, map, text);
  EXPECT_EQ(r.i2t[0], 1);
  EXPECT_EQ(r.i2t[1], 1);
  // t2i: caption 0 ("a red circle") now also matches image 1 (0.2 < 0.5): rank 1 either way.
  EXPECT_EQ(r.t2i, (std::vector<int64_t>{1, 1, 1}));
}

TEST(Retrieval, EveryFieldOnAnAsymmetricCase) {
  // 12 images, caption t belongs to image t. Off the diagonal every image scores caption t as t
  // (0..11); image i scores its own caption d[i]. So:
  //   i2t rank of image i   = 1 + #{t != i : t >= d[i]}
  //   t2i rank of caption t = 1 if d[t] > t (every other image scores it t < d[t]), else 12.
  const std::vector<double> d = {11.5, 10.5, 0.5, 3.5, 9.5, 20, 2.5, 8.5, 7.5, 1.5, 4.5, 6.5};
  std::vector<float> sim(12 * 12);
  std::vector<int64_t> map(12);
  for (int64_t i = 0; i < 12; ++i) {
    map[i] = i;
    for (int64_t t = 0; t < 12; ++t) sim[i * 12 + t] = static_cast<float>(i == t ? d[i] : t);
  }
  const RetrievalRanks r = retrieval_ranks(sim, 12, 12, map);
  // d = 11.5: none >= -> 1; 10.5: {11} -> 2; 0.5: 1..11 but 2 -> 11; 3.5: 4..11 -> 9; ...
  EXPECT_EQ(r.i2t, (std::vector<int64_t>{1, 2, 11, 9, 3, 1, 9, 4, 4, 10, 7, 5}));
  EXPECT_EQ(r.t2i, (std::vector<int64_t>{1, 1, 12, 1, 1, 1, 12, 1, 12, 12, 12, 12}));
  const auto m = compute_retrieval(sim, 12, 12, map);
  // Every field differs from its other-direction twin, so a field filled from the wrong
  // direction (or the wrong K) fails here.
  EXPECT_DOUBLE_EQ(m.i2t_r1, 2.0 / 12);
  EXPECT_DOUBLE_EQ(m.i2t_r5, 7.0 / 12);
  EXPECT_DOUBLE_EQ(m.i2t_r10, 11.0 / 12);
  EXPECT_DOUBLE_EQ(m.i2t_median_rank, 4.5);  // sorted: 1 1 2 3 4 4 | 5 7 9 9 10 11
  EXPECT_DOUBLE_EQ(m.i2t_mean_rank, 66.0 / 12);
  EXPECT_DOUBLE_EQ(m.t2i_r1, 6.0 / 12);
  EXPECT_DOUBLE_EQ(m.t2i_r5, 6.0 / 12);
  EXPECT_DOUBLE_EQ(m.t2i_r10, 6.0 / 12);
  EXPECT_DOUBLE_EQ(m.t2i_median_rank, 6.5);
  EXPECT_DOUBLE_EQ(m.t2i_mean_rank, 78.0 / 12);
  EXPECT_EQ(m.num_images, 12);
  EXPECT_EQ(m.num_texts, 12);
}

TEST(Retrieval, Errors) {
  const std::vector<float> sim = {1, 0, 0, 1};
  EXPECT_THROW(compute_retrieval(sim, 2, 3, std::vector<int64_t>{0, 1, 1}), Error);
  EXPECT_THROW(compute_retrieval(sim, 2, 2, std::vector<int64_t>{0, 0}), Error);  // image 1 without caption
  EXPECT_THROW(compute_retrieval(sim, 2, 2, std::vector<int64_t>{0, 2}), Error);
  const std::vector<float> nan = {1, NAN, 0, 1};
  EXPECT_THROW(compute_retrieval(nan, 2, 2, std::vector<int64_t>{0, 1}), Error);
}

}  // namespace
}  // namespace vlm::eval
