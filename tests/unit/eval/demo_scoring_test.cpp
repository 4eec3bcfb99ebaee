// The scoring helpers behind the demo's caption and VQA numbers: which (colour, shape) pairs a
// caption names, what kind a question is, and the per-kind / per-scene-size breakdowns.
#include <gtest/gtest.h>

#include "inference/evaluate.h"

namespace vlm::inference {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(ColourShapePairs, NamesEveryObjectSortedAndIgnoresSizesAndRelations) {
  EXPECT_EQ(colour_shape_pairs("a small red circle above a large blue star"),
            (Pairs{{"blue", "star"}, {"red", "circle"}}));
  EXPECT_EQ(colour_shape_pairs("Three shapes: a white cross, a white cross and an orange square."),
            (Pairs{{"orange", "square"}, {"white", "cross"}, {"white", "cross"}}));
}

TEST(ColourShapePairs, AShapeWithoutAColourIsNotAPair) {
  EXPECT_EQ(colour_shape_pairs("a circle to the left of a green triangle"), (Pairs{{"green", "triangle"}}));
  EXPECT_TRUE(colour_shape_pairs("a red").empty());
}

TEST(QuestionKind, IsTheFirstTwoWordsInLowerCase) {
  EXPECT_EQ(question_kind("What shape is the red object?"), "what shape");
  EXPECT_EQ(question_kind("  Is there a red star?"), "is there");
  EXPECT_EQ(question_kind("How many crosses are there?"), "how many");
  EXPECT_EQ(question_kind("Why?"), "why");
  EXPECT_EQ(question_kind(""), "");
}

TEST(EvaluateJson, BreakdownsGiveSharesAndCounts) {
  CaptionResult captions;
  captions.attribute_by_objects[1] = {.total = 4, .right = 3};
  captions.attribute_by_objects[3] = {.total = 5, .right = 1};
  const auto by_objects = attribute_breakdown_json(captions);
  EXPECT_DOUBLE_EQ(by_objects.at("1").at("accuracy").get<double>(), 0.75);
  EXPECT_EQ(by_objects.at("3").at("images").get<int64_t>(), 5);
  EXPECT_DOUBLE_EQ(by_objects.at("3").at("accuracy").get<double>(), 0.2);
  EXPECT_FALSE(by_objects.contains("2"));

  VqaResult vqa;
  vqa.questions = 10;
  vqa.accuracy = 0.6;
  vqa.by_kind["what shape"] = {.total = 8, .right = 4};
  vqa.by_kind["how many"] = {.total = 2, .right = 2};
  const auto j = vqa_json(vqa);
  EXPECT_DOUBLE_EQ(j.at("accuracy").get<double>(), 0.6);
  EXPECT_EQ(j.at("questions").get<int64_t>(), 10);
  EXPECT_DOUBLE_EQ(j.at("by_kind").at("what shape").at("accuracy").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j.at("by_kind").at("how many").at("accuracy").get<double>(), 1.0);
  EXPECT_EQ(Tally{}.share(), 0.0);
}

}  // namespace
}  // namespace vlm::inference
