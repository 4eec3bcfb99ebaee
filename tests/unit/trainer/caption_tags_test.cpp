// Tag2Text-style tags from captions: words and neighbouring word pairs without stop words,
// ranked by how many captions hold them; multi-hot targets; the prior logits of the tag head.
#include "train/caption_tags.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace vlm::train {
namespace {

using Tags = std::vector<std::string>;

TEST(CaptionTags, WordsAndNeighbouringPairsWithoutStopWords) {
  EXPECT_EQ(CaptionTags::caption_tags("A small Red square, and the red square!"),
            (Tags{"small", "small red", "red", "red square", "square"}));
  // "to the left of" breaks the pairs: only content words that touch pair up.
  EXPECT_EQ(CaptionTags::caption_tags("a circle to the left of a star"), (Tags{"circle", "left", "star"}));
  EXPECT_EQ(CaptionTags::caption_tags("two dogs: 3 cats"), (Tags{"two", "two dogs", "dogs", "cats"}));
  EXPECT_EQ(CaptionTags::caption_tags("Café crème"), (Tags{"café", "café crème", "crème"}));
  EXPECT_TRUE(CaptionTags::caption_tags("it is on the ... of a").empty());
}

TEST(CaptionTags, VocabularyRanksByCaptionCountThenAlphabetically) {
  const std::vector<std::string> captions = {"red square", "red circle", "a red red circle", "blue star",
                                             "blue star", "green"};
  // Captions holding each tag: red 3, circle 2, red circle 2, blue 2, blue star 2, star 2,
  // square 1, red square 1, green 1 ("red red" once, in one caption).
  const CaptionTags all = CaptionTags::build(captions, 100, 1);
  EXPECT_EQ(all.tags(), (Tags{"red", "blue", "blue star", "circle", "red circle", "star", "green", "red red",
                              "red square", "square"}));
  const CaptionTags common = CaptionTags::build(captions, 100, 2);
  EXPECT_EQ(common.tags(), (Tags{"red", "blue", "blue star", "circle", "red circle", "star"}));
  const CaptionTags top = CaptionTags::build(captions, 2, 1);
  EXPECT_EQ(top.tags(), (Tags{"red", "blue"}));
  EXPECT_EQ(CaptionTags::build(captions, 100, 4).size(), 0);
}

TEST(CaptionTags, TargetsMarkTheTagsEachCaptionHolds) {
  const CaptionTags tags = CaptionTags::build({"red square", "red circle", "blue circle"}, 100, 1);
  ASSERT_EQ(tags.tags(), (Tags{"circle", "red", "blue", "blue circle", "red circle", "red square", "square"}));
  const at::Tensor t = tags.targets({"A RED circle.", "a green triangle", "blue circle and red square"});
  const at::Tensor expected = torch::tensor({{1.0f, 1.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f},
                                             {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},
                                             {1.0f, 1.0f, 1.0f, 1.0f, 0.0f, 1.0f, 1.0f}});
  EXPECT_TRUE(torch::equal(t, expected)) << t;
}

TEST(CaptionTags, PriorLogitsAreTheLogOddsOfEachTagsShare) {
  // red in 3 of 4 captions, square in 1 of 4, blue in every one (clamped to stay finite).
  const CaptionTags tags = CaptionTags::build({"blue red", "blue red", "blue red", "blue square"}, 100, 1);
  ASSERT_EQ(tags.tags(), (Tags{"blue", "blue red", "red", "blue square", "square"}));
  const at::Tensor prior = tags.prior_logits();
  EXPECT_NEAR(prior[2].item<double>(), std::log(3.0), 1e-6);
  EXPECT_NEAR(prior[4].item<double>(), -std::log(3.0), 1e-6);
  EXPECT_TRUE(std::isfinite(prior[0].item<double>()));
  EXPECT_GT(prior[0].item<double>(), 9.0);
}

}  // namespace
}  // namespace vlm::train
