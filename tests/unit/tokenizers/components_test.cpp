// The components the real files do not use -- BertNormalizer variants, NFKC/NFD/StripAccents,
// Replace, Prepend, Strip, Digits, Punctuation and Split behaviours, Metaspace, CharDelimiterSplit,
// ByteLevel offset trimming, RoBERTa/BERT processing, added-token flags, byte_fallback BPE,
// WordPiece and WordLevel, and their decoders -- against HF (expected/components.json).
#include <gtest/gtest.h>

#include "tokenizer_fixtures.h"
#include "tokenizers/tokenizer.h"

namespace vlm::tokenizers {
namespace {

using vlm::test::fixture;


TEST(Components, MatchHf) {
  const auto gpt2_model =
      nlohmann::json::parse(Tokenizer::from_path(fixture("tokenizers/gpt2")).to_json_string())["model"];
  const auto configs = nlohmann::json::parse(vlm::test::read_text(fixture("tokenizers/expected/components.json")));
  ASSERT_GE(configs.size(), 20u);
  for (const auto& config : configs) {
    const std::string name = config["name"];
    nlohmann::json doc = config["doc"];
    if (doc["model"] == "gpt2") doc["model"] = gpt2_model;
    const Tokenizer tok = Tokenizer::from_json_string(doc.dump(), name);
    int failures = 0;
    for (const auto& c : config["cases"]) {
      const std::string text = c["text"];
      const Encoding plain = tok.encode(text, false);
      const Encoding special = tok.encode(text, true);
      const auto ids_special = c["ids_special"].get<std::vector<int64_t>>();
      const bool ok = plain.ids == c["ids"].get<std::vector<int64_t>>() && special.ids == ids_special &&
                      vlm::test::as_hf_reports(text, plain.offsets) == c["offsets"].get<std::vector<std::vector<size_t>>>() &&
                      vlm::test::as_hf_reports(text, special.offsets) == c["special_offsets"].get<std::vector<std::vector<size_t>>>() &&
                      tok.decode(ids_special, true) == c["decoded"].get<std::string>() &&
                      tok.decode(ids_special, false) == c["decoded_keep"].get<std::string>();
      if (!ok && ++failures <= 3) {
        ADD_FAILURE() << name << ": " << nlohmann::json(text).dump() << "\n expected ids " << c["ids"].dump()
                      << "\n got          " << nlohmann::json(plain.ids).dump() << "\n expected special "
                      << c["ids_special"].dump() << "\n got              " << nlohmann::json(special.ids).dump()
                      << "\n expected offsets " << c["special_offsets"].dump() << "\n got offsets      "
                      << nlohmann::json(vlm::test::as_hf_reports(text, special.offsets)).dump() << "\n expected decode "
                      << c["decoded_keep"].dump() << " / " << c["decoded"].dump() << "\n got decode      "
                      << nlohmann::json(tok.decode(ids_special, false)).dump() << " / "
                      << nlohmann::json(tok.decode(ids_special, true)).dump();
      }
    }
    EXPECT_EQ(failures, 0) << name;
  }
}

}  // namespace
}  // namespace vlm::tokenizers
