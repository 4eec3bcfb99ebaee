// build_word_level: the small caption tokenizer of the from-scratch demo; its ids, specials,
// unknown words, save() -> from_path() equivalence and the tokenizer.json layout HF loads.
#include <gtest/gtest.h>

#include "tokenizer_fixtures.h"
#include "tokenizers/tokenizer.h"

namespace vlm::tokenizers {
namespace {

TEST(WordLevel, BuildsFromCaptions) {
  const std::vector<std::string> corpus = {"A dog runs on the beach.", "A cat sleeps on a red couch!",
                                           "Two DOGS play, and a dog barks."};
  const Tokenizer tok = build_word_level(corpus, {"<|im_start|>", "<|im_end|>", "[CLS]", "[SEP]"});
  EXPECT_EQ(tok.token_to_id("[UNK]"), 0);
  EXPECT_EQ(tok.token_to_id("[PAD]"), 1);
  EXPECT_EQ(tok.token_to_id("<|im_start|>"), 2);
  EXPECT_EQ(tok.token_to_id("[SEP]"), 5);
  EXPECT_EQ(tok.token_to_id("a"), 6);  // the most frequent word ("a" x4) comes first
  EXPECT_EQ(tok.pad_token_id(), 1);
  EXPECT_EQ(tok.unk_token_id(), 0);
  // 6 specials + a dog on . ! , and barks beach cat couch dogs play red runs sleeps the two
  EXPECT_EQ(tok.vocab_size(), 6 + 18);

  const Encoding e = tok.encode("<|im_start|>A dog, a zebra!<|im_end|>");
  std::vector<std::string> expected_tokens = {"<|im_start|>", "a", "dog", ",", "a", "[UNK]", "!", "<|im_end|>"};
  EXPECT_EQ(e.tokens, expected_tokens);
  EXPECT_EQ(e.ids.front(), 2);
  EXPECT_EQ(e.ids[5], 0);
  // [UNK] is a special token too, so skipping specials drops it (as HF does).
  EXPECT_EQ(tok.decode(e.ids, /*skip_special_tokens=*/true), "a dog , a !");
  EXPECT_EQ(tok.decode(e.ids, /*skip_special_tokens=*/false), "<|im_start|> a dog , a [UNK] ! <|im_end|>");
}

TEST(WordLevel, SaveAndReloadGiveTheSameTokenizer) {
  const Tokenizer tok = build_word_level({"red bus", "blue bus near a red car"}, {"[CLS]"});
  vlm::test::TempDir dir;
  const std::string path = dir.path() + "/tokenizer.json";
  tok.save(path);
  const Tokenizer again = Tokenizer::from_path(path);
  for (const char* text : {"A red bus.", "[CLS] blue car, green bus", ""}) {
    EXPECT_EQ(tok.encode(text).ids, again.encode(text).ids) << text;
    EXPECT_EQ(tok.encode(text).offsets, again.encode(text).offsets) << text;
  }
  // The layout HF's library reads: a WordLevel model with [UNK], Lowercase and Whitespace.
  const auto doc = nlohmann::json::parse(vlm::test::read_text(path));
  EXPECT_EQ(doc["model"]["type"], "WordLevel");
  EXPECT_EQ(doc["model"]["unk_token"], "[UNK]");
  EXPECT_EQ(doc["normalizer"]["type"], "Lowercase");
  EXPECT_EQ(doc["pre_tokenizer"]["type"], "Whitespace");
  EXPECT_EQ(doc["added_tokens"].size(), 3u);
  EXPECT_EQ(doc["added_tokens"][2]["content"], "[CLS]");
  EXPECT_TRUE(doc["added_tokens"][2]["special"].get<bool>());
}

}  // namespace
}  // namespace vlm::tokenizers
