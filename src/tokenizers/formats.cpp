// tokenizer.json documents for folders without one, built as transformers' slow->fast converters
// build them (BertConverter for vocab.txt, GPT2Converter for vocab.json + merges.txt), and the
// small word-level tokenizer the demo trains from captions (build_word_level).
#include <algorithm>
#include <map>
#include <sstream>

#include "core/error.h"
#include "tokenizers/impl.h"

namespace vlm::tokenizers {

namespace {

std::string config_token(const Json& config, const char* key, const std::string& fallback) {
  if (!config.contains(key)) return fallback;
  const Json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return fallback;
}

Json added_token_json(const std::string& content, int64_t id, bool normalized) {
  return Json{{"id", id},          {"content", content}, {"single_word", false}, {"lstrip", false},
              {"rstrip", false},   {"normalized", normalized}, {"special", true}};
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

}  // namespace

Json bert_json_from_vocab_txt(const std::string& vocab_path, const Json& config) {
  const std::string text = read_file(vocab_path);
  require_utf8(text, vocab_path);
  Json vocab = Json::object();
  int64_t index = 0;
  for (const std::string& token : split_lines(text)) vocab[token] = index++;  // a later duplicate wins
  if (vocab.empty()) throw FileError(vocab_path, "empty vocabulary");

  const std::string unk = config_token(config, "unk_token", "[UNK]");
  const std::string sep = config_token(config, "sep_token", "[SEP]");
  const std::string pad = config_token(config, "pad_token", "[PAD]");
  const std::string cls = config_token(config, "cls_token", "[CLS]");
  const std::string mask = config_token(config, "mask_token", "[MASK]");
  for (const std::string& t : {unk, sep, cls})
    if (!vocab.contains(t)) throw FileError(vocab_path, str("special token '", t, "' is not in the vocabulary"));

  std::map<int64_t, std::string> specials;
  for (const std::string& t : {pad, unk, cls, sep, mask})
    if (vocab.contains(t)) specials[vocab[t].get<int64_t>()] = t;
  Json added = Json::array();
  for (const auto& [id, t] : specials) added.push_back(added_token_json(t, id, false));

  auto bool_or_null = [&](const char* key, Json fallback) -> Json {
    if (config.contains(key) && (config[key].is_boolean() || config[key].is_null())) return config[key];
    return fallback;
  };
  Json doc = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "BertNormalizer"},
        {"clean_text", true},
        {"handle_chinese_chars", bool_or_null("tokenize_chinese_chars", true)},
        {"strip_accents", bool_or_null("strip_accents", nullptr)},
        {"lowercase", bool_or_null("do_lower_case", true)}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         Json::array({{{"SpecialToken", {{"id", cls}, {"type_id", 0}}}},
                      {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                      {{"SpecialToken", {{"id", sep}, {"type_id", 0}}}}})},
        {"pair",
         Json::array({{{"SpecialToken", {{"id", cls}, {"type_id", 0}}}},
                      {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                      {{"SpecialToken", {{"id", sep}, {"type_id", 0}}}},
                      {{"Sequence", {{"id", "B"}, {"type_id", 1}}}},
                      {{"SpecialToken", {{"id", sep}, {"type_id", 1}}}}})},
        {"special_tokens",
         {{cls, {{"id", cls}, {"ids", {vocab[cls]}}, {"tokens", {cls}}}},
          {sep, {{"id", sep}, {"ids", {vocab[sep]}}, {"tokens", {sep}}}}}}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
      {"model",
       {{"type", "WordPiece"},
        {"unk_token", unk},
        {"continuing_subword_prefix", "##"},
        {"max_input_chars_per_word", 100},
        {"vocab", vocab}}}};
  return doc;
}

Json gpt2_json_from_vocab_merges(const std::string& vocab_path, const std::string& merges_path, const Json& config) {
  Json vocab;
  try {
    vocab = Json::parse(read_file(vocab_path));
  } catch (const nlohmann::json::exception& e) {
    throw FileError(vocab_path, str("invalid JSON: ", e.what()));
  }
  if (!vocab.is_object()) throw FileError(vocab_path, "expected an object of token -> id");
  const std::string text = read_file(merges_path);
  require_utf8(text, merges_path);
  Json merges = Json::array();
  bool first = true;
  for (std::string line : split_lines(text)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first && line.rfind("#version", 0) == 0) {
      first = false;
      continue;
    }
    first = false;
    if (line.empty()) continue;
    merges.push_back(line);
  }
  const bool add_prefix_space = config.contains("add_prefix_space") && config["add_prefix_space"].is_boolean()
                                    ? config["add_prefix_space"].get<bool>()
                                    : false;
  Json added = Json::array();
  for (const std::string& t : {config_token(config, "bos_token", "<|endoftext|>"),
                               config_token(config, "eos_token", "<|endoftext|>"),
                               config_token(config, "unk_token", "<|endoftext|>")}) {
    if (!vocab.contains(t) || !vocab[t].is_number_integer()) continue;
    bool seen = false;
    for (const Json& a : added) seen = seen || a["content"] == t;
    if (!seen) added.push_back(added_token_json(t, vocab[t].get<int64_t>(), true));
  }
  return Json{{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", added},
              {"normalizer", nullptr},
              {"pre_tokenizer",
               {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", true}, {"use_regex", true}}},
              {"post_processor",
               {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
              {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
              {"model",
               {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", ""},
                {"end_of_word_suffix", ""},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", vocab},
                {"merges", merges}}}};
}

Tokenizer build_word_level(const std::vector<std::string>& corpus, const std::vector<std::string>& special_tokens) {
  std::vector<std::string> specials = {"[UNK]", "[PAD]"};
  for (const std::string& s : special_tokens) {
    if (s.empty()) throw Error("build_word_level: empty special token");
    require_utf8(s, "build_word_level special token");
    if (std::find(specials.begin(), specials.end(), s) == specials.end()) specials.push_back(s);
  }
  Json vocab = Json::object();
  Json added = Json::array();
  for (size_t i = 0; i < specials.size(); ++i) {
    vocab[specials[i]] = static_cast<int64_t>(i);
    added.push_back(added_token_json(specials[i], static_cast<int64_t>(i), false));
  }
  Json doc = {{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", added},
              {"normalizer", {{"type", "Lowercase"}}},
              {"pre_tokenizer", {{"type", "Whitespace"}}},
              {"post_processor", nullptr},
              {"decoder", nullptr},
              {"model", {{"type", "WordLevel"}, {"vocab", vocab}, {"unk_token", "[UNK]"}}}};

  // Count words with the same normalizer and pre-tokenizer the tokenizer will use.
  const auto counter = load_tokenizer_json(doc, "build_word_level");
  std::map<std::string, int64_t> counts;
  std::vector<AddedSplit> pieces;
  for (const std::string& text : corpus) {
    require_utf8(text, "build_word_level corpus");
    pieces.clear();
    counter->added.split(text, false, pieces);
    for (const AddedSplit& p : pieces) {
      if (p.id || p.end == p.start) continue;
      NormalizedString n(std::string_view(text).substr(p.start, p.end - p.start));
      counter->normalizer->normalize(n);
      std::vector<NormalizedString> splits{std::move(n)};
      counter->pre_tokenizer->pre_tokenize(splits);
      for (const NormalizedString& s : splits) ++counts[s.get()];
    }
  }
  std::vector<std::pair<std::string, int64_t>> words;
  for (auto& [w, c] : counts)
    if (!vocab.contains(w)) words.emplace_back(w, c);
  std::stable_sort(words.begin(), words.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  int64_t next = static_cast<int64_t>(specials.size());
  for (const auto& [w, c] : words) doc["model"]["vocab"][w] = next++;
  auto impl = load_tokenizer_json(std::move(doc), "build_word_level");
  impl->unk_id = 0;
  impl->pad_id = 1;
  impl->bos_id.reset();
  impl->eos_id.reset();
  return Tokenizer(impl);
}

}  // namespace vlm::tokenizers
