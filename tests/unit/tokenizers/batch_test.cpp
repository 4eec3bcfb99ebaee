// Pairs, batches, truncation and padding against HF (expected/bert-uncased-batch.json), and
// invariants: padding side, attention / special-token masks, pad = eos when no pad token.
#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer_fixtures.h"
#include "tokenizers/tokenizer.h"

namespace vlm::tokenizers {
namespace {

using vlm::test::fixture;

Side side_of(const nlohmann::json& j) { return j.get<std::string>() == "Left" ? Side::kLeft : Side::kRight; }

TEST(Batch, BertTruncationAndPaddingMatchHf) {
  const Tokenizer tok = Tokenizer::from_path(fixture("tokenizers/bert-uncased"));
  const auto cases = nlohmann::json::parse(vlm::test::read_text(fixture("tokenizers/expected/bert-uncased-batch.json")));
  ASSERT_GE(cases.size(), 8u);
  for (const auto& c : cases) {
    EncodeOptions o;
    TruncationOptions t;
    t.max_length = c["truncation"]["max_length"];
    t.side = side_of(c["truncation"]["side"]);
    const std::string strategy = c["truncation"]["strategy"];
    t.strategy = strategy == "OnlySecond" ? TruncationStrategy::kOnlySecond
                 : strategy == "OnlyFirst" ? TruncationStrategy::kOnlyFirst
                                           : TruncationStrategy::kLongestFirst;
    o.truncation = t;
    PaddingOptions p;
    p.side = side_of(c["padding"]["side"]);
    if (c["padding"].contains("length")) p.length = c["padding"]["length"].get<size_t>();
    o.padding = p;
    const std::string label = c.dump().substr(0, 160);
    if (c["kind"] == "pairs") {
      for (size_t i = 0; i < c["pairs"].size(); ++i) {
        const std::pair<std::string, std::string> pair{c["pairs"][i][0], c["pairs"][i][1]};
        if (c["ids"][i].is_null()) {
          EXPECT_THROW(tok.encode_pair_batch({pair}, o), vlm::Error) << label;
          continue;
        }
        const auto e = tok.encode_pair_batch({pair}, o).at(0);
        EXPECT_EQ(e.ids, c["ids"][i].get<std::vector<int64_t>>()) << label << " pair " << i;
        EXPECT_EQ(e.type_ids, c["type_ids"][i].get<std::vector<int64_t>>()) << label << " pair " << i;
        EXPECT_EQ(e.attention_mask, c["attention_mask"][i].get<std::vector<int64_t>>()) << label;
        EXPECT_EQ(e.special_tokens_mask, c["special_mask"][i].get<std::vector<int64_t>>()) << label;
      }
    } else {
      const auto texts = c["texts"].get<std::vector<std::string>>();
      const auto encs = tok.encode_batch(texts, o);
      for (size_t i = 0; i < texts.size(); ++i) {
        EXPECT_EQ(encs[i].ids, c["ids"][i].get<std::vector<int64_t>>()) << label << " text " << i;
        EXPECT_EQ(encs[i].attention_mask, c["attention_mask"][i].get<std::vector<int64_t>>()) << label;
        EXPECT_EQ(encs[i].special_tokens_mask, c["special_mask"][i].get<std::vector<int64_t>>()) << label;
        std::vector<std::vector<size_t>> offsets;
        for (const auto& [s, e] : encs[i].offsets) offsets.push_back({s, e});
        EXPECT_EQ(offsets, c["offsets"][i].get<std::vector<std::vector<size_t>>>()) << label << " text " << i;
      }
    }
  }
}

TEST(Batch, LeftPaddingWithEosWhenNoPadToken) {
  // GPT-2 has no pad token: padding falls back to <|endoftext|> (the reference pipeline's rule).
  const Tokenizer tok = Tokenizer::from_path(fixture("tokenizers/gpt2"));
  EncodeOptions o;
  o.add_special_tokens = false;
  o.padding = PaddingOptions{};
  o.padding->side = Side::kLeft;
  const auto encs = tok.encode_batch({"a", "a longer prompt here"}, o);
  ASSERT_EQ(encs[0].size(), encs[1].size());
  const size_t pad = encs[1].size() - 1;
  for (size_t i = 0; i < pad; ++i) {
    EXPECT_EQ(encs[0].ids[i], 50256);
    EXPECT_EQ(encs[0].attention_mask[i], 0);
    EXPECT_EQ(encs[0].special_tokens_mask[i], 1);
  }
  EXPECT_EQ(encs[0].ids.back(), tok.encode("a", false).ids.back());
  EXPECT_EQ(encs[0].attention_mask.back(), 1);
  // pad_to_multiple_of rounds the batch length up
  o.padding->pad_to_multiple_of = 8;
  EXPECT_EQ(tok.encode_batch({"a", "a longer prompt here"}, o)[0].size(), 8u);
}

TEST(Batch, SingleEncodeWithFixedLengthAndRightTruncation) {
  const Tokenizer tok = Tokenizer::from_path(fixture("tokenizers/bert-uncased"));
  EncodeOptions o;
  o.truncation = TruncationOptions{};
  o.truncation->max_length = 6;
  o.padding = PaddingOptions{};
  o.padding->length = 6;
  const auto long_one = tok.encode("one two three four five six seven", o);
  EXPECT_EQ(long_one.size(), 6u);
  EXPECT_EQ(long_one.ids.front(), 101);
  EXPECT_EQ(long_one.ids.back(), 102);
  const auto short_one = tok.encode("one", o);
  EXPECT_EQ(short_one.ids, (std::vector<int64_t>{101, 2028, 102, 0, 0, 0}));
  EXPECT_EQ(short_one.attention_mask, (std::vector<int64_t>{1, 1, 1, 0, 0, 0}));
}

}  // namespace
}  // namespace vlm::tokenizers
