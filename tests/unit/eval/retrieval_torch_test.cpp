// The batched torch similarity matrix vs a direct normalised product, and retrieval on it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "eval/retrieval_torch.h"

namespace vlm::eval {
namespace {

TEST(RetrievalTorch, BatchedSimilarityEqualsDirectProduct) {
  torch::manual_seed(0);
  const auto img = torch::randn({37, 16});
  const auto txt = torch::randn({23, 16});
  const auto got = similarity_matrix(img, txt, /*batch=*/8);
  const auto want = torch::matmul(torch::nn::functional::normalize(img, torch::nn::functional::NormalizeFuncOptions().dim(1)),
                                  torch::nn::functional::normalize(txt, torch::nn::functional::NormalizeFuncOptions().dim(1)).t());
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_LE((got - want).abs().max().item<float>(), 1e-6f);
  // Embeddings of matching pairs: text i == image i plus small noise -> perfect retrieval.
  const auto txt2 = img + 0.01 * torch::randn({37, 16});
  std::vector<int64_t> map(37);
  for (int64_t i = 0; i < 37; ++i) map[i] = i;
  const auto m = compute_retrieval(similarity_matrix(img, txt2, 5), map);
  EXPECT_EQ(m.i2t_r1, 1.0);
  EXPECT_EQ(m.t2i_r1, 1.0);
}

}  // namespace
}  // namespace vlm::eval
