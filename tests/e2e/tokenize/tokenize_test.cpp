// `vlm tokenize` end to end: JSON lines in and out, special tokens only with --special, --decode
// back to the text, plain positional texts, and one-line errors with exit status 1 / 2.
#include <gtest/gtest.h>

#include <fstream>

#include "test_util.h"

namespace {

using vlm::test::fixture;
using vlm::test::run_vlm;

TEST(TokenizeCli, JsonlEncodeAndDecode) {
  vlm::test::TempDir dir;
  const std::string in = dir.path() + "/in.jsonl";
  std::ofstream(in) << "{\"text\": \"Hello world\"}\n{\"text\": \"caf\\u00e9 <|endoftext|>\"}\n";
  const auto plain = run_vlm("tokenize --tokenizer " + fixture("tokenizers/gpt2") + " --jsonl < " + in, false);
  ASSERT_EQ(plain.status, 0) << plain.output;
  EXPECT_EQ(plain.output, "{\"ids\":[15496,995]}\n{\"ids\":[66,1878,2634,220,50256]}\n");

  const std::string ids = dir.path() + "/ids.jsonl";
  std::ofstream(ids) << plain.output;
  const auto back = run_vlm("tokenize --tokenizer " + fixture("tokenizers/gpt2") + " --decode < " + ids, false);
  ASSERT_EQ(back.status, 0) << back.output;
  EXPECT_EQ(back.output, "{\"text\":\"Hello world\"}\n{\"text\":\"café \"}\n");
  const auto kept = run_vlm("tokenize --tokenizer " + fixture("tokenizers/gpt2") + " --decode --special < " + ids, false);
  EXPECT_EQ(kept.output, "{\"text\":\"Hello world\"}\n{\"text\":\"café <|endoftext|>\"}\n");
}

TEST(TokenizeCli, SpecialTokensOnlyWhenAsked) {
  vlm::test::TempDir dir;
  const std::string in = dir.path() + "/in.jsonl";
  std::ofstream(in) << "{\"text\": \"a dog\"}\n";
  const std::string bert = fixture("tokenizers/bert-uncased");
  EXPECT_EQ(run_vlm("tokenize --tokenizer " + bert + " --jsonl < " + in, false).output, "{\"ids\":[1037,3899]}\n");
  EXPECT_EQ(run_vlm("tokenize --tokenizer " + bert + " --jsonl --special < " + in, false).output,
            "{\"ids\":[101,1037,3899,102]}\n");
  const auto positional = run_vlm("tokenize --tokenizer " + bert + " 'A Dog'", false);
  EXPECT_EQ(positional.output, "{\"ids\":[1037,3899],\"tokens\":[\"a\",\"dog\"]}\n");
}

TEST(TokenizeCli, ErrorsAreOneLine) {
  vlm::test::TempDir dir;
  const std::string in = dir.path() + "/in.jsonl";
  std::ofstream(in) << "{\"text\": \"ok\"}\nnot json\n";
  const auto bad = run_vlm("tokenize --tokenizer " + fixture("tokenizers/gpt2") + " --jsonl < " + in);
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("stdin line 2: invalid JSON"), std::string::npos) << bad.output;
  const auto missing = run_vlm("tokenize --tokenizer " + dir.path() + "/nope --jsonl < " + in);
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("no such file or folder"), std::string::npos) << missing.output;
  EXPECT_EQ(run_vlm("tokenize --jsonl < " + in).status, 2);
}

}  // namespace
