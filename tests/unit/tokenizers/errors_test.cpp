// Malformed and unsupported inputs give vlm::Error with a message naming the file and the
// problem, never a crash: bad JSON, unknown component types, inconsistent vocabularies, invalid
// UTF-8 text, missing folders.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "tokenizer_fixtures.h"
#include "tokenizers/tokenizer.h"

namespace vlm::tokenizers {
namespace {

using vlm::test::fixture;

// Expects from_json_string(json) to throw a vlm::Error whose message contains every `parts`.
void expect_load_error(const std::string& json, const std::vector<std::string>& parts) {
  try {
    Tokenizer::from_json_string(json, "bad/tokenizer.json");
    ADD_FAILURE() << "no error for " << json;
  } catch (const vlm::Error& e) {
    const std::string what = e.what();
    for (const auto& p : parts) EXPECT_NE(what.find(p), std::string::npos) << "'" << p << "' not in: " << what;
  }
}

const char* kModel = R"("model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "a": 1}, "unk_token": "[UNK]"})";

TEST(Errors, MalformedJson) {
  expect_load_error("{", {"bad/tokenizer.json", "invalid JSON"});
  expect_load_error("[1, 2]", {"bad/tokenizer.json", "JSON object"});
  expect_load_error("{}", {"bad/tokenizer.json", "missing key 'model'"});
  expect_load_error(R"({"model": 3})", {"'model' must be an object"});
}

TEST(Errors, UnsupportedComponentsAreNamed) {
  expect_load_error(std::string("{") + kModel + R"(, "normalizer": {"type": "Precompiled", "precompiled_charsmap": ""}})",
                    {"normalizer", "unsupported normalizer type 'Precompiled'"});
  expect_load_error(std::string("{") + kModel + R"(, "pre_tokenizer": {"type": "UnicodeScripts"}})",
                    {"pre_tokenizer", "unsupported pre-tokenizer type 'UnicodeScripts'"});
  expect_load_error(std::string("{") + kModel + R"(, "decoder": {"type": "CTC"}})", {"unsupported decoder type 'CTC'"});
  expect_load_error(std::string("{") + kModel + R"(, "post_processor": {"type": "Nope"}})",
                    {"unsupported post-processor type 'Nope'"});
  expect_load_error(R"({"model": {"type": "Unigram", "vocab": []}})", {"unsupported model type 'Unigram'"});
  expect_load_error(std::string("{") + kModel +
                        R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}})",
                    {"cannot compile regex '(unclosed'"});
  expect_load_error(std::string("{") + kModel +
                        R"(, "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"}})",
                    {"unknown split behavior 'Sideways'"});
}

TEST(Errors, InconsistentModels) {
  expect_load_error(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}})",
                    {"merges[0]", "merged token 'ab' is not in the vocabulary"});
  expect_load_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}})", {"not two tokens"});
  expect_load_error(R"({"model": {"type": "BPE", "vocab": {"a": -4}, "merges": []}})", {"invalid id"});
  expect_load_error(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})", {"unk_token '[UNK]' is not in the vocabulary"});
  expect_load_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "dropout": 0.1}})", {"dropout"});
  expect_load_error(std::string("{") + kModel + R"(, "added_tokens": [{"content": "x"}]})", {"added_tokens[0]", "missing key 'id'"});
}

TEST(Errors, InvalidUtf8Input) {
  const Tokenizer tok = Tokenizer::from_path(fixture("tokenizers/gpt2"));
  for (const std::string& bad : {std::string("abc\xff"), std::string("\xc3"), std::string("\xed\xa0\x80"),
                                std::string("ok \xf4\x90\x80\x80")}) {
    try {
      tok.encode(bad);
      ADD_FAILURE() << "no error";
    } catch (const vlm::Error& e) {
      EXPECT_NE(std::string(e.what()).find("invalid UTF-8 at byte"), std::string::npos) << e.what();
    }
  }
  // Decoding byte-level ids that split a character gives U+FFFD, not an error.
  const auto ids = tok.encode("é").ids;
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(tok.decode({tok.token_to_id("\xC3\x83").value()}), "\xEF\xBF\xBD");
  EXPECT_EQ(tok.decode({-5, 1LL << 40}), "");  // unknown ids are skipped, as HF does
  EXPECT_THROW(tok.id_to_token(1LL << 40), vlm::Error);
}

TEST(Errors, MissingAndBrokenFiles) {
  vlm::test::TempDir dir;
  try {
    Tokenizer::from_path(dir.path() + "/nothing");
    FAIL();
  } catch (const vlm::FileError& e) {
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos);
  }
  try {
    Tokenizer::from_path(dir.path());
    FAIL();
  } catch (const vlm::FileError& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer.json, vocab.txt or vocab.json"), std::string::npos);
  }
  std::ofstream(dir.path() + "/tokenizer.json") << "{\"model\": ";
  try {
    Tokenizer::from_path(dir.path());
    FAIL();
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(e.path(), dir.path() + "/tokenizer.json");
  }
  std::ofstream(dir.path() + "/tokenizer.json") << "{" << kModel << "}";
  std::ofstream(dir.path() + "/tokenizer_config.json") << R"({"eos_token": "</s>"})";
  try {
    Tokenizer::from_path(dir.path());
    FAIL();
  } catch (const vlm::FileError& e) {
    EXPECT_NE(std::string(e.what()).find("eos_token '</s>' is not in the tokenizer's vocabulary"), std::string::npos);
  }
}

}  // namespace
}  // namespace vlm::tokenizers
