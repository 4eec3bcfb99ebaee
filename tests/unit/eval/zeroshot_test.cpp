// Zero-shot classification scoring on constructed cases worked out by hand: top-1 / top-5,
// per-class accuracy, the confusion table, ties, and the classifier rows (template embeddings
// averaged and renormalised, as OpenCLIP builds them).
#include "eval/zeroshot.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"

namespace vlm::eval {
namespace {

TEST(ZeroShot, TopOneTopFiveAndConfusion) {
  // 6 classes, 3 images. Image 0 (class 2) ranks its class first; image 1 (class 0) ranks it 3rd;
  // image 2 (class 5) ranks it last (6th).
  const at::Tensor scores = torch::tensor({{0.1f, 0.2f, 0.9f, 0.3f, 0.0f, 0.4f},
                                           {0.5f, 0.6f, 0.1f, 0.7f, 0.2f, 0.3f},
                                           {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.1f}});
  const std::vector<int64_t> labels = {2, 0, 5};
  const auto r = score_zeroshot(scores, labels, {"a", "b", "c", "d", "e", "f"});
  EXPECT_EQ(r.images, 3);
  EXPECT_DOUBLE_EQ(r.top1, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.top5, 2.0 / 3.0);
  EXPECT_EQ(r.confusion[2][2], 1);
  EXPECT_EQ(r.confusion[0][3], 1);  // image 1 predicted class 3 (0.7)
  EXPECT_EQ(r.confusion[5][0], 1);
  EXPECT_EQ(r.class_images, (std::vector<int64_t>{1, 0, 1, 0, 0, 1}));
  EXPECT_EQ(r.class_top1_right, (std::vector<int64_t>{0, 0, 1, 0, 0, 0}));
  const auto j = zeroshot_json(r);
  EXPECT_EQ(j["classes"][2]["top1"].get<double>(), 1.0);
  EXPECT_EQ(j["confusion"]["counts"][0][3].get<int64_t>(), 1);
}

TEST(ZeroShot, TiesGoToTheLowerClassIndex) {
  const at::Tensor scores = torch::tensor({{0.5f, 0.5f}, {0.5f, 0.5f}});
  const auto r = score_zeroshot(scores, std::vector<int64_t>{0, 1}, {"x", "y"});
  EXPECT_DOUBLE_EQ(r.top1, 0.5);  // image 0 (class 0) wins its tie, image 1 (class 1) loses it
  EXPECT_EQ(r.confusion[1][0], 1);
}

TEST(ZeroShot, ClassRowsAverageNormalisedTemplates) {
  // Class 0's two templates: (3, 4)/5 and (0, 1) -> mean (0.3, 0.9) -> normalised.
  const at::Tensor t = torch::tensor({{{3.0f, 4.0f}, {0.0f, 2.0f}}, {{1.0f, 0.0f}, {1.0f, 0.0f}}});  // (C=2, K=2, E=2)
  const at::Tensor c = class_embeddings(t);
  const double n = std::sqrt(0.3 * 0.3 + 0.9 * 0.9);
  EXPECT_NEAR(c[0][0].item<double>(), 0.3 / n, 1e-6);
  EXPECT_NEAR(c[0][1].item<double>(), 0.9 / n, 1e-6);
  EXPECT_NEAR(c[1][0].item<double>(), 1.0, 1e-6);
}

TEST(ZeroShot, TemplatesAndBadInput) {
  EXPECT_EQ(fill_template("a photo of a {}.", "golden_retriever"), "a photo of a golden retriever.");
  EXPECT_THROW(fill_template("no slot", "cat"), Error);
  EXPECT_THROW(score_zeroshot(torch::zeros({2, 3}), std::vector<int64_t>{0}, {"a", "b", "c"}), Error);
  EXPECT_THROW(score_zeroshot(torch::zeros({1, 2}), std::vector<int64_t>{2}, {"a", "b"}), Error);
}

}  // namespace
}  // namespace vlm::eval
