// Pre-tokenizers of tokenizer.json: ByteLevel (GPT-2 regex optional, add_prefix_space), Split
// (regex or string, every behaviour, invert), BertPreTokenizer, Whitespace, WhitespaceSplit,
// Digits, Punctuation, Metaspace, CharDelimiterSplit and Sequence, after
// tokenizers/src/pre_tokenizers/. Splitting keeps per-byte alignments (normalized.h).
#include "core/error.h"
#include "tokenizers/components.h"

namespace vlm::tokenizers {

namespace {

constexpr const char* kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

SplitBehavior parse_behavior(const std::string& b, const std::string& where) {
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  throw Error(str(where, ": unknown split behavior '", b, "'"),
              "one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

// Applies `fn(const NormalizedString&, std::vector<NormalizedString>& out)` to every split.
template <typename Fn>
void split_all(std::vector<NormalizedString>& splits, Fn&& fn) {
  std::vector<NormalizedString> out;
  out.reserve(splits.size() * 2);
  for (const NormalizedString& s : splits) fn(s, out);
  splits = std::move(out);
}

// Pieces where every character satisfying `pred` is its own match (HF's Pattern for Fn(char)).
template <typename Pred>
void char_pieces(std::string_view t, Pred&& pred, std::vector<Piece>& out) {
  if (t.empty()) {
    out.push_back({0, 0, false});
    return;
  }
  size_t prev = 0, i = 0;
  while (i < t.size()) {
    const size_t at = i;
    const char32_t c = next_char(t, i);
    if (pred(c)) {
      if (prev != at) out.push_back({prev, at, false});
      out.push_back({at, i, true});
      prev = i;
    }
  }
  if (prev != t.size()) out.push_back({prev, t.size(), false});
}

template <typename Pred>
void split_on_chars(std::vector<NormalizedString>& splits, Pred pred, SplitBehavior behavior) {
  std::vector<Piece> pieces;
  split_all(splits, [&](const NormalizedString& s, std::vector<NormalizedString>& out) {
    pieces.clear();
    char_pieces(s.get(), pred, pieces);
    s.split(pieces, behavior, out);
  });
}

void split_on_pattern(std::vector<NormalizedString>& splits, const Pattern& pattern, SplitBehavior behavior,
                      bool invert) {
  std::vector<Piece> pieces;
  split_all(splits, [&](const NormalizedString& s, std::vector<NormalizedString>& out) {
    pieces.clear();
    pattern.find_pieces(s.get(), pieces);
    if (invert)
      for (Piece& p : pieces) p.is_match = !p.is_match;
    s.split(pieces, behavior, out);
  });
}

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex), regex_(Pattern::regex(kGpt2Regex)) {}
  void pre_tokenize(std::vector<NormalizedString>& splits) const override {
    if (add_prefix_space_)
      for (NormalizedString& s : splits)
        if (s.get().empty() || s.get()[0] != ' ') s.prepend(" ");
    if (use_regex_) split_on_pattern(splits, regex_, SplitBehavior::kIsolated, false);
    const char32_t* table = bytes_to_unicode();
    for (NormalizedString& s : splits) s.byte_level_map(table);
  }

 private:
  bool add_prefix_space_, use_regex_;
  Pattern regex_;
};

class Split : public PreTokenizer {
 public:
  Split(Pattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<NormalizedString>& splits) const override {
    split_on_pattern(splits, pattern_, behavior_, invert_);
  }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class BertPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<NormalizedString>& splits) const override {
    split_on_chars(splits, is_whitespace, SplitBehavior::kRemoved);
    split_on_chars(splits, is_bert_punctuation, SplitBehavior::kIsolated);
  }
};

class Whitespace : public PreTokenizer {
 public:
  // HF compiles \w+|[^\w\s]+ with Rust's regex crate, whose \w is Alphabetic, marks, decimal
  // digits, connector punctuation and the joiners U+200C/U+200D.
  Whitespace()
      : regex_(Pattern::regex(R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}]+|)"
                              R"([^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}\s]+)")) {}
  void pre_tokenize(std::vector<NormalizedString>& splits) const override {
    split_on_pattern(splits, regex_, SplitBehavior::kRemoved, /*invert=*/true);
  }

 private:
  Pattern regex_;
};

class WhitespaceSplit : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<NormalizedString>& splits) const override {
    split_on_chars(splits, is_whitespace, SplitBehavior::kRemoved);
  }
};

class Digits : public PreTokenizer {
 public:
  explicit Digits(bool individual) : individual_(individual) {}
  void pre_tokenize(std::vector<NormalizedString>& splits) const override {
    split_on_chars(splits, is_numeric, individual_ ? SplitBehavior::kIsolated : SplitBehavior::kContiguous);
  }

 private:
  bool individual_;
};

class Punctuation : public PreTokenizer {
 public:
  explicit Punctuation(SplitBehavior behavior) : behavior_(behavior) {}
  void pre_tokenize(std::vector<NormalizedString>& splits) const override {
    split_on_chars(splits, is_bert_punctuation, behavior_);
  }

 private:
  SplitBehavior behavior_;
};

class CharDelimiterSplit : public PreTokenizer {
 public:
  explicit CharDelimiterSplit(char32_t delimiter) : delimiter_(delimiter) {}
  void pre_tokenize(std::vector<NormalizedString>& splits) const override {
    const char32_t d = delimiter_;
    split_on_chars(splits, [d](char32_t c) { return c == d; }, SplitBehavior::kRemoved);
  }

 private:
  char32_t delimiter_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

class Metaspace : public PreTokenizer {
 public:
  Metaspace(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
  void pre_tokenize(std::vector<NormalizedString>& splits) const override {
    const Pattern space = Pattern::literal(" ");
    for (NormalizedString& s : splits) {
      const std::vector<Piece> spaces = space.find_matches(s.get());
      if (!spaces.empty()) s.replace(spaces, replacement_);
      const bool starts = s.get().compare(0, replacement_.size(), replacement_) == 0;
      if (!starts && (scheme_ == PrependScheme::kAlways ||
                      (scheme_ == PrependScheme::kFirst && s.original_span().start == 0)))
        s.prepend(replacement_);
    }
    if (split_) split_on_pattern(splits, Pattern::literal(replacement_), SplitBehavior::kMergedWithNext, false);
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<NormalizedString>& splits) const override {
    for (const auto& p : parts_) p->pre_tokenize(splits);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

char32_t single_char(const std::string& s, const std::string& where) {
  size_t i = 0;
  if (s.empty()) throw Error(str(where, ": expected one character, got an empty string"));
  const char32_t c = next_char(s, i);
  if (i != s.size()) throw Error(str(where, ": expected one character, got '", s, "'"));
  return c;
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = json_string(j, "type", where);
  if (type == "ByteLevel")
    return std::make_unique<ByteLevel>(json_bool(j, "add_prefix_space", true, where),
                                       json_bool(j, "use_regex", true, where));
  if (type == "Split") {
    const std::string behavior = json_string(j, "behavior", where);
    return std::make_unique<Split>(json_pattern(json_at(j, "pattern", where), where + ".pattern"),
                                   parse_behavior(behavior, where), json_bool(j, "invert", false, where));
  }
  if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
  if (type == "Whitespace") return std::make_unique<Whitespace>();
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplit>();
  if (type == "Digits") return std::make_unique<Digits>(json_bool(j, "individual_digits", false, where));
  if (type == "Punctuation") {
    const std::string behavior = j.contains("behavior") ? json_string(j, "behavior", where) : "Isolated";
    return std::make_unique<Punctuation>(parse_behavior(behavior, where));
  }
  if (type == "CharDelimiterSplit")
    return std::make_unique<CharDelimiterSplit>(single_char(json_string(j, "delimiter", where), where));
  if (type == "Metaspace") {
    const std::string replacement = json_string(j, "replacement", where);
    single_char(replacement, where + ".replacement");
    PrependScheme scheme = PrependScheme::kAlways;
    if (j.contains("prepend_scheme")) {
      const std::string s = json_string(j, "prepend_scheme", where);
      if (s == "always")
        scheme = PrependScheme::kAlways;
      else if (s == "first")
        scheme = PrependScheme::kFirst;
      else if (s == "never")
        scheme = PrependScheme::kNever;
      else
        throw Error(str(where, ": unknown prepend_scheme '", s, "'"), "one of always, first, never");
    } else if (j.contains("add_prefix_space")) {
      scheme = json_bool(j, "add_prefix_space", true, where) ? PrependScheme::kAlways : PrependScheme::kNever;
    }
    return std::make_unique<Metaspace>(replacement, scheme, json_bool(j, "split", true, where));
  }
  if (type == "Sequence") {
    const Json& list = json_at(j, "pretokenizers", where);
    if (!list.is_array()) throw Error(str(where, ": 'pretokenizers' must be a list"));
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t k = 0; k < list.size(); ++k) {
      auto part = make_pre_tokenizer(list[k], str(where, ".pretokenizers[", k, "]"));
      if (part) parts.push_back(std::move(part));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  throw Error(str(where, ": unsupported pre-tokenizer type '", type, "'"),
              "supported: ByteLevel, Split, BertPreTokenizer, Whitespace, WhitespaceSplit, Digits, Punctuation, "
              "Metaspace, CharDelimiterSplit, Sequence");
}

}  // namespace vlm::tokenizers
