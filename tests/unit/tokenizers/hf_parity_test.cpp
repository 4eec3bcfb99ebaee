// Id-exact parity with Hugging Face's Rust tokenizers on ~300 fixture strings per tokenizer
// (tests/fixtures/tokenizers/expected/*.jsonl, made by tools/tokenizers/make_fixtures.mjs):
// ids with and without special tokens, byte offsets, masks, decode, and byte-level round trips.
#include <gtest/gtest.h>

#include "tokenizer_fixtures.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/unicode.h"

namespace vlm::tokenizers {
namespace {

using vlm::test::fixture;
using vlm::test::read_jsonl;

std::vector<int64_t> ids_of(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }

std::string show(const std::string& s) { return nlohmann::json(s).dump(); }

// Compares every fixture line; reports the first few mismatches in full.
void check_parity(const Tokenizer& tok, const std::string& expected_file, bool byte_level, bool nfc) {
  const auto lines = read_jsonl(fixture("tokenizers/expected/" + expected_file));
  ASSERT_GT(lines.size(), 250u);
  int failures = 0;
  for (const auto& line : lines) {
    const std::string text = line["text"];
    const Encoding plain = tok.encode(text, /*add_special_tokens=*/false);
    const Encoding special = tok.encode(text, /*add_special_tokens=*/true);
    const auto offsets = vlm::test::as_hf_reports(text, plain.offsets);
    const bool ok_ids = plain.ids == ids_of(line["ids"]);
    const bool ok_special = special.ids == ids_of(line["ids_special"]);
    const bool ok_masks = special.special_tokens_mask == ids_of(line["special_mask"]) &&
                          special.type_ids == ids_of(line["type_ids"]);
    const bool ok_offsets = offsets == line["offsets"].get<std::vector<std::vector<size_t>>>();
    const std::string decoded = tok.decode(ids_of(line["ids_special"]), /*skip_special_tokens=*/true);
    const std::string kept = tok.decode(ids_of(line["ids_special"]), /*skip_special_tokens=*/false);
    const bool ok_decode = decoded == line["decoded"].get<std::string>() && kept == line["decoded_keep"].get<std::string>();
    if (!(ok_ids && ok_special && ok_masks && ok_offsets && ok_decode)) {
      if (++failures <= 5) {
        ADD_FAILURE() << expected_file << ": text " << show(text) << "\n ids ok " << ok_ids << " special ok "
                      << ok_special << " masks ok " << ok_masks << " offsets ok " << ok_offsets << " decode ok "
                      << ok_decode << "\n expected " << line["ids"].dump() << "\n got      "
                      << nlohmann::json(plain.ids).dump() << "\n expected offsets " << line["offsets"].dump()
                      << "\n got offsets      " << nlohmann::json(offsets).dump() << "\n expected decode "
                      << show(line["decoded_keep"]) << "\n got decode      " << show(kept);
      }
    }
    if (byte_level) {
      // decode(encode(x)) == x wherever HF guarantees it: byte-level BPE without a normalizer, or
      // with NFC on text that NFC leaves unchanged.
      const bool invariant = !nfc || normalize_utf8(text, NormForm::kNFC) == text;
      if (invariant && tok.decode(plain.ids, /*skip_special_tokens=*/false) != text && ++failures <= 5)
        ADD_FAILURE() << expected_file << ": round trip failed for " << show(text);
    }
  }
  EXPECT_EQ(failures, 0) << expected_file << ": " << failures << " of " << lines.size() << " strings differ";
}

TEST(HfParity, Qwen3) {
  const Tokenizer tok = Tokenizer::from_path(vlm::test::qwen3_dir());
  check_parity(tok, "qwen3.jsonl", /*byte_level=*/true, /*nfc=*/true);
}

TEST(HfParity, Gpt2FromVocabAndMerges) {
  const Tokenizer tok = Tokenizer::from_path(fixture("tokenizers/gpt2"));
  check_parity(tok, "gpt2.jsonl", /*byte_level=*/true, /*nfc=*/false);
}

TEST(HfParity, BertUncasedFromVocabTxt) {
  const Tokenizer tok = Tokenizer::from_path(fixture("tokenizers/bert-uncased"));
  check_parity(tok, "bert-uncased.jsonl", /*byte_level=*/false, /*nfc=*/false);
}

TEST(HfParity, Llama3) {
  if (!vlm::test::have_llama3())
    GTEST_SKIP() << "Llama 3 tokenizer not fetched: run scripts/setup.d/tokenizers.sh (it is not committed: "
                    "Meta's license)";
  const Tokenizer tok = Tokenizer::from_path(vlm::test::llama3_dir());
  check_parity(tok, "llama3.jsonl", /*byte_level=*/true, /*nfc=*/false);
}

TEST(HfParity, SpecialTokenIds) {
  const Tokenizer qwen = Tokenizer::from_path(vlm::test::qwen3_dir());
  EXPECT_EQ(qwen.eos_token_id(), qwen.token_to_id("<|im_end|>"));
  EXPECT_EQ(qwen.pad_token_id(), qwen.token_to_id("<|endoftext|>"));
  EXPECT_FALSE(qwen.bos_token_id().has_value());
  EXPECT_EQ(qwen.vocab_size(), 151669);
  EXPECT_EQ(qwen.id_to_token(151644), "<|im_start|>");
  EXPECT_TRUE(qwen.is_special_id(151644));
  EXPECT_TRUE(qwen.chat_template().has_value());

  const Tokenizer bert = Tokenizer::from_path(fixture("tokenizers/bert-uncased"));
  EXPECT_EQ(bert.vocab_size(), 30522);
  EXPECT_EQ(bert.pad_token_id(), 0);
  EXPECT_EQ(bert.unk_token_id(), 100);
  EXPECT_EQ(bert.token_to_id("[CLS]"), 101);
  EXPECT_EQ(bert.token_to_id("[SEP]"), 102);

  const Tokenizer gpt2 = Tokenizer::from_path(fixture("tokenizers/gpt2"));
  EXPECT_EQ(gpt2.eos_token_id(), 50256);
  EXPECT_EQ(gpt2.vocab_size(), 50257);
}

}  // namespace
}  // namespace vlm::tokenizers
