// Component fixtures: small tokenizer.json documents exercising the normalizers, pre-tokenizers,
// models, added-token flags, post-processors and decoders that the real files do not use, run
// through HF's Rust tokenizers. A config whose "model" is "gpt2" uses GPT-2's BPE model (the test
// substitutes it from tests/fixtures/tokenizers/gpt2), so any text is encodable.
const BL = { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false };
const seq = (...p) => ({ type: "Sequence", pretokenizers: [...p] });
const nseq = (...n) => ({ type: "Sequence", normalizers: [...n] });
const bld = { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false };

function byteFallbackModel() {
  const vocab = { "<unk>": 0 };
  for (let b = 0; b < 256; ++b) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 1 + b;
  const pieces = ["▁", "a", "b", "c", "d", "e", "h", "l", "o", "t", "▁a", "▁t", "th", "▁th", "he", "▁the", "ll", "llo", "hello", "▁hello"];
  pieces.forEach((p, i) => (vocab[p] = 257 + i));
  return {
    type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null,
    fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab,
    merges: [["▁", "a"], ["▁", "t"], ["t", "h"], ["▁t", "h"], ["h", "e"], ["▁th", "e"], ["l", "l"], ["ll", "o"], ["he", "llo"], ["▁", "hello"]],
  };
}

export function componentConfigs() {
  const added = (id, content, o = {}) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false, ...o });
  return [
    { name: "bert_normalizer_cased", model: "gpt2", normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: false, lowercase: false }, pre_tokenizer: seq({ type: "BertPreTokenizer" }, BL), decoder: bld },
    { name: "bert_normalizer_strip_accents_only", model: "gpt2", normalizer: { type: "BertNormalizer", clean_text: false, handle_chinese_chars: false, strip_accents: true, lowercase: false }, pre_tokenizer: seq({ type: "WhitespaceSplit" }, BL), decoder: bld },
    { name: "nfkc_lowercase_strip", model: "gpt2", normalizer: nseq({ type: "NFKC" }, { type: "Lowercase" }, { type: "Strip", strip_left: true, strip_right: true }), pre_tokenizer: seq({ type: "Whitespace" }, BL), decoder: bld },
    { name: "nfd_strip_accents_nfkd", model: "gpt2", normalizer: nseq({ type: "NFKD" }, { type: "StripAccents" }, { type: "NFD" }), pre_tokenizer: seq({ type: "Punctuation", behavior: "Isolated" }, BL), decoder: bld },
    { name: "replace_regex_digits", model: "gpt2", normalizer: { type: "Replace", pattern: { Regex: "\\s+" }, content: " " }, pre_tokenizer: seq({ type: "Digits", individual_digits: true }, { type: "WhitespaceSplit" }, BL), decoder: bld },
    { name: "replace_string_prepend", model: "gpt2", normalizer: nseq({ type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" }), pre_tokenizer: BL, decoder: bld },
    { name: "digits_contiguous_punct_next", model: "gpt2", pre_tokenizer: seq({ type: "Digits", individual_digits: false }, { type: "Punctuation", behavior: "MergedWithNext" }, BL), decoder: bld },
    { name: "punct_prev_contiguous", model: "gpt2", pre_tokenizer: seq({ type: "Punctuation", behavior: "MergedWithPrevious" }, { type: "Punctuation", behavior: "Contiguous" }, BL), decoder: bld },
    { name: "split_string_merged_prev", model: "gpt2", pre_tokenizer: seq({ type: "Split", pattern: { String: " " }, behavior: "MergedWithPrevious", invert: false }, BL), decoder: bld },
    { name: "split_string_merged_next", model: "gpt2", pre_tokenizer: seq({ type: "Split", pattern: { String: " " }, behavior: "MergedWithNext", invert: false }, BL), decoder: bld },
    { name: "split_regex_contiguous", model: "gpt2", pre_tokenizer: seq({ type: "Split", pattern: { Regex: "\\p{N}|\\s" }, behavior: "Contiguous", invert: false }, BL), decoder: bld },
    { name: "split_regex_removed_inverted", model: "gpt2", pre_tokenizer: seq({ type: "Split", pattern: { Regex: "\\p{L}+" }, behavior: "Removed", invert: true }, BL), decoder: bld },
    { name: "metaspace_first_split", model: "gpt2", pre_tokenizer: seq({ type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: true }, BL), decoder: bld },
    { name: "metaspace_always_nosplit", model: "gpt2", pre_tokenizer: seq({ type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: false }, BL), decoder: { type: "Sequence", decoders: [bld, { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: false }] } },
    { name: "char_delimiter", model: "gpt2", pre_tokenizer: seq({ type: "CharDelimiterSplit", delimiter: "a" }, BL), decoder: bld },
    { name: "bytelevel_prefix_roberta", model: "gpt2", pre_tokenizer: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      post_processor: { type: "RobertaProcessing", sep: ["</s>", 2], cls: ["<s>", 0], trim_offsets: true, add_prefix_space: true }, decoder: bld },
    { name: "bytelevel_trim_offsets", model: "gpt2", pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: "Sequence", processors: [{ type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
        { type: "BertProcessing", sep: ["!", 0], cls: ["\"", 1] }] }, decoder: bld },
    { name: "added_token_flags", model: "gpt2", normalizer: { type: "Lowercase" }, pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: true },
      added_tokens: [added(50257, "[X]", { lstrip: true, special: true }), added(50258, "<y>", { rstrip: true }), added(50259, "foo", { single_word: true, normalized: true }),
        added(50260, "bar", { normalized: true, special: true }), added(50261, "<|endoftext|>", { special: true }), added(50262, "the cat", { normalized: true })],
      decoder: bld },
    { name: "byte_fallback_llama2_style", model: byteFallbackModel(), normalizer: nseq({ type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" }),
      pre_tokenizer: null, decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }, { type: "Strip", content: " ", start: 1, stop: 0 }] },
      added_tokens: [added(0, "<unk>", { special: true })] },
    { name: "wordpiece_small_max", model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "@@", max_input_chars_per_word: 6,
        vocab: { "[UNK]": 0, "a": 1, "b": 2, "c": 3, "@@a": 4, "@@b": 5, "@@c": 6, "ab": 7, "@@bc": 8, "the": 9, "@@re": 10, "he": 11, "t": 12, "@@h": 13, "@@e": 14, ".": 15 } },
      normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true }, pre_tokenizer: { type: "BertPreTokenizer" },
      decoder: { type: "WordPiece", prefix: "@@", cleanup: false } },
    { name: "wordlevel_whitespace", model: { type: "WordLevel", unk_token: "[UNK]", vocab: { "[UNK]": 0, "[PAD]": 1, "a": 2, "dog": 3, "cat": 4, ".": 5, "the": 6, "on": 7, "photo": 8, "of": 9, "'": 10, "s": 11 } },
      normalizer: { type: "Lowercase" }, pre_tokenizer: { type: "Whitespace" }, post_processor: { type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "[PAD]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
        special_tokens: { "[PAD]": { id: "[PAD]", ids: [1], tokens: ["[PAD]"] } } } },
  ];
}

export function componentStrings(all) {
  return [...all.slice(0, 70), "[X] foo bar", "x [X]  <y>   z", "foobar foo_bar foo", "BAR Bar bar", "The Cat the cat", "hello the world",
    "Hello", "abc abcabc a.b.c", "there he the", "ab abc abcabcabc", "thé é ü", "A dog on the photo of a cat's",
    "<|endoftext|> x <|endoftext|>", "a" + "\u0301".repeat(5)];
}
