// libFuzzer target for the tokenizer: the first byte picks a mode. Mode 0 loads the rest as a
// tokenizer.json and, if it loads, encodes and decodes sample text; other modes encode the rest as
// text (any bytes, so invalid UTF-8 too) with BERT, GPT-2 and a component-rich tokenizer, and
// decode arbitrary ids. Only vlm::Error may escape the library; anything else is a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tokenizers/chat.h"
#include "tokenizers/tokenizer.h"

using vlm::tokenizers::Tokenizer;

namespace {

// Exercises normalizers, pre-tokenizers, byte_fallback BPE and decoders not used by the real files.
constexpr const char* kMixed = R"({
  "added_tokens": [{"id": 0, "content": "<unk>", "special": true, "normalized": false},
                   {"id": 9, "content": "[X]", "special": false, "normalized": true, "lstrip": true, "rstrip": true, "single_word": true}],
  "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
                 {"type": "Strip", "strip_left": true, "strip_right": true}, {"type": "BertNormalizer", "lowercase": true}]},
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "Punctuation"},
                    {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": true}]},
  "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<unk>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                     "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                     "special_tokens": {"<unk>": {"id": "<unk>", "ids": [0], "tokens": ["<unk>"]}}},
  "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
              {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
  "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true,
            "vocab": {"<unk>": 0, "<0x41>": 1, "<0xC3>": 2, "<0xA9>": 3, "\u2581": 4, "a": 5, "b": 6, "ab": 7, "\u2581a": 8, "[X]": 9},
            "merges": [["a", "b"], "\u2581 a"]}
})";

struct Tokenizers {
  std::vector<Tokenizer> all;
  Tokenizers() {
    all.push_back(Tokenizer::from_path(VLM_SOURCE_DIR "/tests/fixtures/tokenizers/bert-uncased"));
    all.push_back(Tokenizer::from_path(VLM_SOURCE_DIR "/tests/fixtures/tokenizers/gpt2"));
    all.push_back(Tokenizer::from_json_string(kMixed, "mixed"));
  }
};

void exercise(const Tokenizer& tok, std::string_view text) {
  try {
    const auto e = tok.encode(text, true);
    tok.decode(e.ids, false);
    tok.decode(e.ids, true);
    tok.encode_pair(text, text.substr(text.size() / 2), true);
  } catch (const vlm::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Tokenizers tokenizers;
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 4;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode == 0) {
    try {
      const Tokenizer tok = Tokenizer::from_json_string(rest, "fuzz");
      exercise(tok, "Hello, World! 123 caf\xC3\xA9 <unk> [X] \xF0\x9F\x98\x80");
      tok.decode({0, 1, 2, 3, 4, 5, -1, 1 << 30}, false);
    } catch (const vlm::Error&) {
    }
    try {
      vlm::tokenizers::ChatTemplate::from_template_string(std::string(rest), "fuzz");
    } catch (const vlm::Error&) {
    }
    return 0;
  }
  if (mode == 3) {  // arbitrary ids through every decoder
    std::vector<int64_t> ids;
    for (size_t i = 0; i + 2 <= rest.size(); i += 2)
      ids.push_back(static_cast<int64_t>(static_cast<uint8_t>(rest[i])) << 8 | static_cast<uint8_t>(rest[i + 1]));
    for (const Tokenizer& t : tokenizers.all) {
      t.decode(ids, true);
      t.decode(ids, false);
    }
    return 0;
  }
  for (const Tokenizer& t : tokenizers.all) exercise(t, rest);
  return 0;
}
