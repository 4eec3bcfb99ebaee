// Normalizers of tokenizer.json: BertNormalizer, NFC/NFD/NFKC/NFKD, Lowercase, Strip,
// StripAccents, Replace, Prepend and Sequence, following tokenizers/src/normalizers/. Unicode
// normalization is utf8proc's, run per segment so that alignments stay local.
#include <algorithm>

#include "core/error.h"
#include "tokenizers/components.h"

namespace vlm::tokenizers {

namespace {

class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool chinese, bool strip_accents, bool lowercase)
      : clean_text_(clean_text), chinese_(chinese), strip_accents_(strip_accents), lowercase_(lowercase) {}

  void normalize(NormalizedString& s) const override {
    bool ascii = true;
    for (const char ch : s.get())
      if (static_cast<unsigned char>(ch) >= 0x80) ascii = false;
    if (clean_text_) {
      bool dirty = !ascii;
      if (ascii)
        for (const char ch : s.get()) {
          const auto b = static_cast<unsigned char>(ch);
          if (b < 0x20 || b == 0x7F) dirty = true;
        }
      if (dirty) {
        std::vector<CharChange> changes;
        size_t removed_at_start = 0;
        size_t i = 0;
        const std::string& t = s.get();
        while (i < t.size()) {
          const char32_t c = next_char(t, i);
          if (c == 0 || c == 0xFFFD || is_bert_control(c)) {
            if (changes.empty())
              ++removed_at_start;
            else
              --changes.back().change;
          } else {
            changes.push_back({is_whitespace(c) ? U' ' : c, 0});
          }
        }
        s.transform_range(0, s.get().size(), changes, removed_at_start);
      }
    }
    if (chinese_ && !ascii) {
      bool any = false;
      size_t i = 0;
      while (i < s.get().size() && !any) any = is_cjk_ideograph(next_char(s.get(), i));
      if (any)
        s.map_chars([](char32_t c, std::vector<CharChange>& out) {
          if (is_cjk_ideograph(c)) {
            out.push_back({U' ', 0});
            out.push_back({c, 1});
            out.push_back({U' ', 1});
          } else {
            out.push_back({c, 0});
          }
        });
    }
    if (strip_accents_ && !ascii) {
      nfd_then_filter(s);
    }
    if (lowercase_) s.lowercase();
  }

 private:
  static void nfd_then_filter(NormalizedString& s);
  bool clean_text_, chinese_, strip_accents_, lowercase_;
};

// Normalizes segment by segment (a segment starts at a normalization boundary) and aligns the
// output characters of a segment to its input characters one to one, extra output characters
// being insertions and missing ones removals, as HF's alignment-tracking normalization does.
// Output character k comes from the input character that holds the start of its decomposition
// in the decomposed stream: a new source replaces it (change 0), input characters skipped on the
// way are removed (negative change on the previous output), a repeated source is an insertion.
void align_segment(const std::vector<char32_t>& in, const std::vector<char32_t>& out, bool compat,
                   std::vector<CharChange>& changes) {
  std::vector<size_t> in_end;  // cumulative decomposed length after each input character
  size_t total_in = 0, total_out = 0;
  for (const char32_t c : in) in_end.push_back(total_in += static_cast<size_t>(decomposed_length(c, compat)));
  std::vector<size_t> out_start;
  for (const char32_t c : out) {
    out_start.push_back(total_out);
    total_out += static_cast<size_t>(decomposed_length(c, compat));
  }
  const size_t first = changes.size();
  if (total_in != total_out || out.empty()) {  // fall back to one-to-one
    for (size_t k = 0; k < out.size(); ++k) changes.push_back({out[k], k < in.size() ? 0 : 1});
    if (out.size() < in.size() && !out.empty()) changes.back().change -= static_cast<int>(in.size() - out.size());
    return;
  }
  size_t cursor = 0;  // next input character not yet consumed
  size_t src = 0;
  for (size_t k = 0; k < out.size(); ++k) {
    while (src < in.size() && in_end[src] <= out_start[k]) ++src;
    if (k > 0 && src < cursor) {
      changes.push_back({out[k], 1});
      continue;
    }
    if (k > 0 && src > cursor) changes.back().change -= static_cast<int>(src - cursor);
    changes.push_back({out[k], 0});
    cursor = std::max(cursor, src) + 1;
  }
  if (cursor < in.size() && changes.size() > first) changes.back().change -= static_cast<int>(in.size() - cursor);
}

void unicode_normalize(NormalizedString& s, NormForm form) {
  const bool compat = form == NormForm::kNFKC || form == NormForm::kNFKD;
  const std::string& t = s.get();
  bool ascii = true;
  for (const char ch : t)
    if (static_cast<unsigned char>(ch) >= 0x80) {
      ascii = false;
      break;
    }
  if (ascii) return;
  std::vector<CharChange> changes;
  changes.reserve(t.size());
  size_t seg_start = 0;
  auto flush = [&](size_t seg_end) {
    if (seg_end == seg_start) return;
    const std::string_view in(t.data() + seg_start, seg_end - seg_start);
    const std::string norm = normalize_utf8(in, form);
    std::vector<char32_t> inc, outc;
    for (size_t i = 0; i < in.size();) inc.push_back(next_char(in, i));
    for (size_t i = 0; i < norm.size();) outc.push_back(next_char(norm, i));
    align_segment(inc, outc, compat, changes);
    seg_start = seg_end;
  };
  size_t i = 0;
  while (i < t.size()) {
    const size_t at = i;
    const char32_t c = next_char(t, i);
    if (at > seg_start && is_normalization_boundary(c)) flush(at);
  }
  flush(t.size());
  s.transform(changes);
}

void BertNormalizer::nfd_then_filter(NormalizedString& s) {
  unicode_normalize(s, NormForm::kNFD);
  s.filter_marks();
}

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormForm form) : form_(form) {}
  void normalize(NormalizedString& s) const override { unicode_normalize(s, form_); }

 private:
  NormForm form_;
};

class Lowercase : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override { s.lowercase(); }
};

class StripAccents : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override { s.filter_marks(/*all_marks=*/true); }
};

class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(NormalizedString& s) const override { s.strip(left_, right_); }

 private:
  bool left_, right_;
};

class Replace : public Normalizer {
 public:
  Replace(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(NormalizedString& s) const override {
    const std::vector<Piece> matches = pattern_.find_matches(s.get());
    if (!matches.empty()) s.replace(matches, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string text) : text_(std::move(text)) {}
  void normalize(NormalizedString& s) const override { s.prepend(text_); }

 private:
  std::string text_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void normalize(NormalizedString& s) const override {
    for (const auto& p : parts_) p->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const Json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = json_string(j, "type", where);
  if (type == "BertNormalizer") {
    const bool lowercase = json_bool(j, "lowercase", true, where);
    bool strip = lowercase;  // strip_accents: null follows lowercase
    if (j.contains("strip_accents") && !j["strip_accents"].is_null()) strip = json_bool(j, "strip_accents", true, where);
    return std::make_unique<BertNormalizer>(json_bool(j, "clean_text", true, where),
                                            json_bool(j, "handle_chinese_chars", true, where), strip, lowercase);
  }
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormForm::kNFC);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormForm::kNFD);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormForm::kNFKC);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormForm::kNFKD);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Strip")
    return std::make_unique<Strip>(json_bool(j, "strip_left", true, where), json_bool(j, "strip_right", true, where));
  if (type == "Replace")
    return std::make_unique<Replace>(json_pattern(json_at(j, "pattern", where), where + ".pattern"),
                                     json_string(j, "content", where));
  if (type == "Prepend") return std::make_unique<Prepend>(json_string(j, "prepend", where));
  if (type == "Sequence") {
    const Json& list = json_at(j, "normalizers", where);
    if (!list.is_array()) throw Error(str(where, ": 'normalizers' must be a list"));
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t k = 0; k < list.size(); ++k) {
      auto part = make_normalizer(list[k], str(where, ".normalizers[", k, "]"));
      if (part) parts.push_back(std::move(part));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  throw Error(str(where, ": unsupported normalizer type '", type, "'"),
              "supported: BertNormalizer, NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, "
              "Prepend, Sequence");
}

}  // namespace vlm::tokenizers
