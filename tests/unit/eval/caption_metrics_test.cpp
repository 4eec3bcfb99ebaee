// Caption metrics vs pycocoevalcap run on committed cases (tests/fixtures/eval/README.md says
// how the expected values were made), the PTB tokenization vs known outputs, and hand cases.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "eval/caption_metrics.h"
#include "eval/ptb_tokenizer.h"
#include "test_util.h"

namespace vlm::eval {
namespace {

// pycocoevalcap's numbers are doubles summed in another order; 1e-6 is the acceptance bar.
constexpr double kMetricTolerance = 1e-6;

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return nlohmann::json::parse(in);
}

class CocoCase : public ::testing::TestWithParam<std::string> {};

TEST_P(CocoCase, MatchesPycocoevalcap) {
  const std::string dir = test::fixture("eval/" + GetParam());
  const auto scores =
      score_captions(read_predictions_jsonl(dir + "/predictions.jsonl"), read_references_jsonl(dir + "/references.jsonl"));
  const nlohmann::json expected = read_json(dir + "/expected.json");
  ASSERT_EQ(scores.size(), expected.size());
  for (const auto& [key, value] : expected.items()) {
    ASSERT_TRUE(scores.count(key)) << key;
    const double want = value.get<double>();
    EXPECT_NEAR(scores.at(key), want, kMetricTolerance)
        << GetParam() << " " << key << ": ours " << scores.at(key) << " pycocoevalcap " << want
        << " |d| " << std::abs(scores.at(key) - want);
  }
}

TEST_P(CocoCase, TokenizationMatchesReferenceTokens) {
  const nlohmann::json tokens = read_json(test::fixture("eval/" + GetParam() + "/tokenized.json"));
  ASSERT_GT(tokens.size(), 20u);
  for (const auto& [raw, want] : tokens.items()) {
    EXPECT_EQ(ptb_tokenize_joined(raw), want.get<std::string>()) << "caption: " << raw;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CocoCase, ::testing::Values("caption_case1", "caption_case2", "caption_case3"));

TEST(PtbTokenizer, PennTreebankConventions) {
  // Outputs of Stanford PTBTokenizer -lowerCase followed by pycocoevalcap's punctuation removal.
  EXPECT_EQ(ptb_tokenize_joined("A man riding a wave on top of a surfboard."),
            "a man riding a wave on top of a surfboard");
  EXPECT_EQ(ptb_tokenize_joined("The dog's ball isn't red, it's BLUE!"), "the dog 's ball is n't red it 's blue");
  EXPECT_EQ(ptb_tokenize_joined("I can't, you cannot; they'll won't."), "i ca n't you can not they 'll wo n't");
  EXPECT_EQ(ptb_tokenize_joined("\"Quoted\" words -- and a dash - here..."), "quoted words and a dash here");
  EXPECT_EQ(ptb_tokenize_joined("A black-and-white photo (1950) of the U.S. Capitol"),
            "a black-and-white photo -lrb- 1950 -rrb- of the u.s. capitol");
  EXPECT_EQ(ptb_tokenize_joined("It costs $1,000 at 3.5% off, 10:30 am"), "it costs $ 1,000 at 3.5 % off 10:30 am");
  EXPECT_EQ(ptb_tokenize_joined("the players' 'blue' shirts [home]"), "the players blue shirts -lsb- home -rsb-");
  EXPECT_EQ(ptb_tokenize_joined("  \t..."), "");
  EXPECT_EQ(ptb_tokenize_joined("o'clock"), "o'clock");
}

TEST(CaptionMetrics, IdenticalCaptionsScoreOne) {
  const Predictions pred = {{"1", "a red circle on the left"}, {"2", "two blue squares at the top"}};
  const References refs = {{"1", {"A red circle on the left."}}, {"2", {"Two blue squares at the top"}}};
  const auto s = score_captions(pred, refs);
  for (const char* k : {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L"}) EXPECT_NEAR(s.at(k), 1.0, 1e-9) << k;
  // CIDEr-D with two images: an n-gram in one image's references has idf log(2); cosine 1 -> 10.
  EXPECT_NEAR(s.at("CIDEr-D"), 10.0, 1e-9);
}

TEST(CaptionMetrics, HandComputedBleuRougeCider) {
  // One image: hypothesis "a b c", references "a b d" and "a b c d e".
  // Closest ref length to 3: 3. Matches: 1-grams 3/3, 2-grams 2/2 ("a b", "b c"), 3-grams 1/1.
  // BLEU-1 = 1, BLEU-2 = 1, BLEU-3 = 1, BLEU-4 = (1 * tiny / small)^(1/4) ~ (1e-6)^(1/4).
  const auto s = score_tokenized_captions({{"x", "a b c"}}, {{"x", {"a b d", "a b c d e"}}});
  EXPECT_NEAR(s.at("BLEU-1"), 1.0, 1e-9);
  EXPECT_NEAR(s.at("BLEU-3"), 1.0, 1e-8);
  EXPECT_NEAR(s.at("BLEU-4"), std::pow((1 + 1e-15) * (1 + 1e-15) * (1 + 1e-15) * 1e-15 / (1e-9), 0.25), 1e-9);
  // ROUGE-L: LCS 2 with ref 1 (p 2/3, r 2/3), 3 with ref 2 (p 1, r 3/5): max p 1, max r 2/3.
  const double p = 1.0, r = 2.0 / 3.0, b2 = 1.44;
  EXPECT_NEAR(s.at("ROUGE-L"), (1 + b2) * p * r / (r + b2 * p), 1e-12);
  // A single image: every idf is log(1) - log(1) = 0, so CIDEr-D is 0 (as in pycocoevalcap).
  EXPECT_EQ(s.at("CIDEr-D"), 0.0);
}

TEST(CaptionMetrics, ShortHypothesisGetsBrevityPenalty) {
  const auto s = score_tokenized_captions({{"x", "a b"}}, {{"x", {"a b c d"}}});
  EXPECT_NEAR(s.at("BLEU-1"), std::exp(1.0 - 4.0 / 2.0), 1e-9);
}

TEST(CaptionMetrics, Errors) {
  EXPECT_THROW(score_captions({{"1", "a"}}, {{"2", {"a"}}}), Error);
  EXPECT_THROW(score_captions({}, {{"2", {"a"}}}), Error);
  test::TempDir dir;
  const std::string bad = dir.path() + "/bad.jsonl";
  std::ofstream(bad) << "{\"image_id\": 1, \"caption\": \"ok\"}\n\n{\"image_id\": 2, \"caption\": oops}\n";
  try {
    read_predictions_jsonl(bad);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ":3"), std::string::npos) << e.what();
  }
  const std::string dup = dir.path() + "/dup.jsonl";
  std::ofstream(dup) << "{\"image_id\": 1, \"caption\": \"a\"}\n{\"image_id\": 1, \"caption\": \"b\"}\n";
  EXPECT_THROW(read_predictions_jsonl(dup), FileError);
  EXPECT_THROW(read_references_jsonl(dir.path() + "/missing.jsonl"), FileError);
}

}  // namespace
}  // namespace vlm::eval
