// Blockwise retrieval ranks: several captions per image against ranks worked out by hand (the
// COCO / Flickr30k protocol), and equal to the full-matrix ranks on random embeddings whatever
// the block size, for the mean and max (over queries) similarity rules.
#include "eval/retrieval_blocks.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"

namespace vlm::eval {
namespace {

at::Tensor dot_scores(const at::Tensor& images, const at::Tensor& texts) { return torch::matmul(images, texts.t()); }

// Max over queries: (bi, Q, E) x (bt, E) -> (bi, bt), as the Q-Former's "max" rule.
at::Tensor max_over_queries(const at::Tensor& images, const at::Tensor& texts) {
  return torch::einsum("iqe,te->iqt", {images, texts}).amax(1);
}

TEST(RetrievalBlocks, SeveralCaptionsPerImageHandComputed) {
  // 2 images, 3 captions: image 0 owns captions 0 and 1, image 1 owns caption 2. Scores (rows
  // images, columns captions), made by embedding in 3-D with one-hot rows:
  //   image 0: [0.9, 0.2, 0.5]    image 1: [0.8, 0.1, 0.3]
  const at::Tensor images = torch::eye(2, 3);  // rows pick columns of the text embeddings
  const at::Tensor texts = torch::tensor({{0.9f, 0.8f, 0.0f}, {0.2f, 0.1f, 0.0f}, {0.5f, 0.3f, 0.0f}});  // (3, 3)
  const std::vector<int64_t> owner = {0, 0, 1};
  const auto r = blockwise_retrieval_ranks(images, texts, owner, dot_scores);
  // i2t: image 0's best caption (0, 0.9) is first -> rank 1. Image 1's caption 2 scores 0.3;
  // caption 0 scores 0.8 above it -> rank 2.
  EXPECT_EQ(r.i2t, (std::vector<int64_t>{1, 2}));
  // t2i: caption 0: image 0 0.9 > image 1 0.8 -> 1; caption 1: 0.2 > 0.1 -> 1; caption 2: own image 1
  // 0.3 < image 0's 0.5 -> 2.
  EXPECT_EQ(r.t2i, (std::vector<int64_t>{1, 1, 2}));
  const auto m = metrics_from_ranks(r);
  EXPECT_DOUBLE_EQ(m.i2t_r1, 0.5);
  EXPECT_DOUBLE_EQ(m.t2i_r1, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.t2i_r5, 1.0);
  EXPECT_DOUBLE_EQ(m.i2t_mean_rank, 1.5);
  EXPECT_DOUBLE_EQ(m.t2i_mean_rank, 4.0 / 3.0);
  EXPECT_EQ(m.num_images, 2);
  EXPECT_EQ(m.num_texts, 3);
}

TEST(RetrievalBlocks, TiesArePessimisticAndEqualCaptionsCountAsCorrect) {
  // Every score equal: any wrong candidate ties with the correct one and ranks ahead of it.
  const at::Tensor images = torch::ones({3, 2}), texts = torch::ones({3, 2});
  const std::vector<int64_t> owner = {0, 1, 2};
  const auto r = blockwise_retrieval_ranks(images, texts, owner, dot_scores);
  EXPECT_EQ(r.i2t, (std::vector<int64_t>{3, 3, 3}));
  EXPECT_EQ(r.t2i, (std::vector<int64_t>{3, 3, 3}));
  // With identical caption texts for images 0 and 1, those pairs are correct too.
  const std::vector<std::string> captions = {"a cat", "a cat", "a dog"};
  const auto same = blockwise_retrieval_ranks(images, texts, owner, dot_scores, captions);
  EXPECT_EQ(same.i2t, (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(same.t2i, (std::vector<int64_t>{2, 2, 3}));
}

void expect_same_as_full_matrix(const at::Tensor& images, const at::Tensor& texts, const std::vector<int64_t>& owner,
                                const BlockSimilarity& sim, const std::vector<std::string>& captions) {
  const at::Tensor full = sim(images, texts).contiguous();  // (Ni, Nt)
  const auto want = retrieval_ranks({full.data_ptr<float>(), static_cast<size_t>(full.numel())}, full.size(0),
                                    full.size(1), owner, captions);
  for (int64_t budget : {int64_t{1} << 16, int64_t{1} << 20, int64_t{1} << 30}) {
    SCOPED_TRACE("block budget " + std::to_string(budget));
    const auto got = blockwise_retrieval_ranks(images, texts, owner, sim, captions, {.max_block_bytes = budget});
    EXPECT_EQ(got.i2t, want.i2t);
    EXPECT_EQ(got.t2i, want.t2i);
  }
}

TEST(RetrievalBlocks, EqualsTheFullMatrixOnRandomEmbeddings) {
  torch::manual_seed(7);
  const int64_t ni = 300, q = 4, e = 8;
  std::vector<int64_t> owner;
  std::vector<std::string> captions;
  for (int64_t i = 0; i < ni; ++i) {
    for (int64_t c = 0; c <= i % 3; ++c) {  // 1 to 3 captions per image
      owner.push_back(i);
      captions.push_back(i % 17 == 0 ? "shared caption" : "caption " + std::to_string(owner.size()));
    }
  }
  const auto nt = static_cast<int64_t>(owner.size());
  // Texts near their image's first query, so ranks are spread out rather than all at chance.
  const at::Tensor queries = torch::randn({ni, q, e});
  const at::Tensor texts =
      queries.select(1, 0).index_select(0, torch::tensor(owner)) + 1.5 * torch::randn({nt, e});  // (Nt, E)
  expect_same_as_full_matrix(queries, texts, owner, max_over_queries, captions);
  expect_same_as_full_matrix(queries.mean(1), texts, owner, dot_scores, {});
}

TEST(RetrievalBlocks, RefusesNonFiniteScoresAndOrphanImages) {
  const at::Tensor images = torch::ones({2, 2}), texts = torch::ones({2, 2});
  const auto nan_sim = [](const at::Tensor& i, const at::Tensor& t) { return dot_scores(i, t) * std::nan(""); };
  EXPECT_THROW(blockwise_retrieval_ranks(images, texts, std::vector<int64_t>{0, 1}, nan_sim), Error);
  EXPECT_THROW(blockwise_retrieval_ranks(images, texts, std::vector<int64_t>{0, 0}, dot_scores), Error);  // image 1 has none
}

}  // namespace
}  // namespace vlm::eval
