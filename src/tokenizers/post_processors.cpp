// Post-processors (tokenizers/src/processors): TemplateProcessing, BertProcessing,
// RobertaProcessing, ByteLevel (offset trimming) and Sequence, operating on the list of
// sequence encodings before they are merged, exactly as HF's process_encodings.
#include <algorithm>
#include <map>

#include "core/error.h"
#include "tokenizers/components.h"

namespace vlm::tokenizers {

namespace {

const char32_t kSpaceChar = 0x120;  // 'Ġ', the byte-level image of ' '

Encoding special_encoding(const std::vector<int64_t>& ids, const std::vector<std::string>& tokens, int64_t type_id) {
  Encoding e;
  e.ids = ids;
  e.tokens = tokens;
  e.type_ids.assign(ids.size(), type_id);
  e.attention_mask.assign(ids.size(), 1);
  e.special_tokens_mask.assign(ids.size(), 1);
  e.offsets.assign(ids.size(), {0, 0});
  e.sequence_ids.assign(ids.size(), -1);
  return e;
}

class TemplateProcessing : public PostProcessor {
 public:
  struct TemplatePiece {
    bool is_sequence;
    int which;            // 0 = $A, 1 = $B
    std::string special;  // special token name
    int64_t type_id;
  };
  struct Special {
    std::vector<int64_t> ids;
    std::vector<std::string> tokens;
  };

  TemplateProcessing(const Json& j, const std::string& where) {
    const Json& specials = json_at(j, "special_tokens", where);
    if (!specials.is_object()) throw Error(str(where, ": 'special_tokens' must be an object"));
    for (auto it = specials.begin(); it != specials.end(); ++it) {
      const std::string w = str(where, ".special_tokens.", it.key());
      Special s;
      const Json& ids = json_at(it.value(), "ids", w);
      const Json& tokens = json_at(it.value(), "tokens", w);
      if (!ids.is_array() || !tokens.is_array() || ids.size() != tokens.size())
        throw Error(str(w, ": 'ids' and 'tokens' must be lists of the same length"));
      for (size_t k = 0; k < ids.size(); ++k) {
        if (!ids[k].is_number_integer() || !tokens[k].is_string())
          throw Error(str(w, ": ids must be integers and tokens strings"));
        s.ids.push_back(ids[k].get<int64_t>());
        s.tokens.push_back(tokens[k].get<std::string>());
      }
      specials_[it.key()] = std::move(s);
    }
    single_ = parse_template(json_at(j, "single", where), where + ".single");
    pair_ = parse_template(json_at(j, "pair", where), where + ".pair");
  }

  size_t added_tokens(bool is_pair) const override {
    size_t n = 0;
    for (const TemplatePiece& p : is_pair ? pair_ : single_)
      if (!p.is_sequence) n += specials_.at(p.special).ids.size();
    return n;
  }

  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override {
    const auto& tmpl = encodings.size() == 2 ? pair_ : single_;
    std::vector<Encoding> out;
    for (const TemplatePiece& p : tmpl) {
      if (p.is_sequence) {
        const size_t i = static_cast<size_t>(p.which);
        if (i >= encodings.size()) throw Error("TemplateProcessing: the template names $B but no pair was given");
        Encoding e = encodings[i];
        e.type_ids.assign(e.ids.size(), p.type_id);
        e.sequence_ids.assign(e.ids.size(), static_cast<int32_t>(i));
        out.push_back(std::move(e));
      } else if (add_special_tokens) {
        const Special& s = specials_.at(p.special);
        out.push_back(special_encoding(s.ids, s.tokens, p.type_id));
      }
    }
    encodings = std::move(out);
  }

 private:
  std::vector<TemplatePiece> parse_template(const Json& list, const std::string& where) const {
    if (!list.is_array()) throw Error(str(where, ": a template must be a list of pieces"));
    std::vector<TemplatePiece> pieces;
    for (const Json& p : list) {
      if (p.contains("Sequence")) {
        const Json& s = p["Sequence"];
        const std::string id = json_string(s, "id", where);
        if (id != "A" && id != "B") throw Error(str(where, ": sequence id must be A or B, got '", id, "'"));
        pieces.push_back({true, id == "B" ? 1 : 0, {}, s.value("type_id", int64_t{0})});
      } else if (p.contains("SpecialToken")) {
        const Json& s = p["SpecialToken"];
        const std::string id = json_string(s, "id", where);
        if (!specials_.count(id)) throw Error(str(where, ": special token '", id, "' is not in special_tokens"));
        pieces.push_back({false, 0, id, s.value("type_id", int64_t{0})});
      } else {
        throw Error(str(where, ": unknown template piece ", p.dump()));
      }
    }
    return pieces;
  }

  std::map<std::string, Special> specials_;
  std::vector<TemplatePiece> single_, pair_;
};

std::pair<std::string, int64_t> token_pair(const Json& j, const char* key, const std::string& where) {
  const Json& v = json_at(j, key, where);
  if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_number_integer())
    throw Error(str(where, ": '", key, "' must be [token, id]"));
  return {v[0].get<std::string>(), v[1].get<int64_t>()};
}

void append(Encoding& to, const Encoding& from) {
  to.ids.insert(to.ids.end(), from.ids.begin(), from.ids.end());
  to.type_ids.insert(to.type_ids.end(), from.type_ids.begin(), from.type_ids.end());
  to.tokens.insert(to.tokens.end(), from.tokens.begin(), from.tokens.end());
  to.attention_mask.insert(to.attention_mask.end(), from.attention_mask.begin(), from.attention_mask.end());
  to.special_tokens_mask.insert(to.special_tokens_mask.end(), from.special_tokens_mask.begin(),
                                from.special_tokens_mask.end());
  to.offsets.insert(to.offsets.end(), from.offsets.begin(), from.offsets.end());
  to.sequence_ids.insert(to.sequence_ids.end(), from.sequence_ids.begin(), from.sequence_ids.end());
}

// BERT and RoBERTa: CLS A SEP [B SEP] / <s> A </s> [</s> B </s>].
class ClsSepProcessing : public PostProcessor {
 public:
  ClsSepProcessing(std::pair<std::string, int64_t> cls, std::pair<std::string, int64_t> sep, bool roberta,
                   bool trim_offsets, bool add_prefix_space)
      : cls_(std::move(cls)), sep_(std::move(sep)), roberta_(roberta), trim_(trim_offsets),
        add_prefix_space_(add_prefix_space) {}

  size_t added_tokens(bool is_pair) const override { return is_pair ? (roberta_ ? 4 : 3) : 2; }

  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override {
    if (roberta_ && trim_)
      for (Encoding& e : encodings) trim_byte_level_offsets(e, add_prefix_space_);
    if (!add_special_tokens) return;
    Encoding out = special_encoding({cls_.second}, {cls_.first}, 0);
    Encoding first = encodings[0];
    first.type_ids.assign(first.ids.size(), 0);
    append(out, first);
    append(out, special_encoding({sep_.second}, {sep_.first}, 0));
    if (encodings.size() == 2) {
      const int64_t type = roberta_ ? 0 : 1;
      if (roberta_) append(out, special_encoding({sep_.second}, {sep_.first}, type));
      Encoding second = encodings[1];
      second.type_ids.assign(second.ids.size(), type);
      append(out, second);
      append(out, special_encoding({sep_.second}, {sep_.first}, type));
    }
    encodings.assign(1, std::move(out));
  }

 private:
  std::pair<std::string, int64_t> cls_, sep_;
  bool roberta_, trim_, add_prefix_space_;
};

class ByteLevelProcessing : public PostProcessor {
 public:
  ByteLevelProcessing(bool trim_offsets, bool add_prefix_space) : trim_(trim_offsets), add_prefix_space_(add_prefix_space) {}
  size_t added_tokens(bool) const override { return 0; }
  void process(std::vector<Encoding>& encodings, bool) const override {
    if (trim_)
      for (Encoding& e : encodings) trim_byte_level_offsets(e, add_prefix_space_);
  }

 private:
  bool trim_, add_prefix_space_;
};

class SequenceProcessing : public PostProcessor {
 public:
  explicit SequenceProcessing(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
  size_t added_tokens(bool is_pair) const override {
    size_t n = 0;
    for (const auto& p : parts_) n += p->added_tokens(is_pair);
    return n;
  }
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override {
    for (const auto& p : parts_) p->process(encodings, add_special_tokens);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

bool is_space_like(char32_t c) { return c == kSpaceChar || is_whitespace(c); }

}  // namespace

void trim_byte_level_offsets(Encoding& e, bool add_prefix_space) {
  for (size_t i = 0; i < e.ids.size(); ++i) {
    const std::string& t = e.tokens[i];
    std::vector<char32_t> chars;
    for (size_t k = 0; k < t.size();) chars.push_back(next_char(t, k));
    size_t leading = 0, trailing = 0;
    while (leading < chars.size() && is_space_like(chars[leading])) ++leading;
    while (trailing < chars.size() && is_space_like(chars[chars.size() - 1 - trailing])) ++trailing;
    auto& [start, end] = e.offsets[i];
    if (leading > 0) {
      const bool is_first = i == 0 || start == 0;
      if (is_first && add_prefix_space && leading == 1) leading = 0;
      start = std::min(start + leading, end);
    }
    if (trailing > 0 && end >= trailing) end = std::max(end - trailing, start);
  }
}

std::unique_ptr<PostProcessor> make_post_processor(const Json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = json_string(j, "type", where);
  if (type == "TemplateProcessing") return std::make_unique<TemplateProcessing>(j, where);
  if (type == "BertProcessing")
    return std::make_unique<ClsSepProcessing>(token_pair(j, "cls", where), token_pair(j, "sep", where), false,
                                              false, false);
  if (type == "RobertaProcessing")
    return std::make_unique<ClsSepProcessing>(token_pair(j, "cls", where), token_pair(j, "sep", where), true,
                                              json_bool(j, "trim_offsets", true, where),
                                              json_bool(j, "add_prefix_space", true, where));
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelProcessing>(json_bool(j, "trim_offsets", true, where),
                                                 json_bool(j, "add_prefix_space", true, where));
  if (type == "Sequence") {
    const Json& list = json_at(j, "processors", where);
    if (!list.is_array()) throw Error(str(where, ": 'processors' must be a list"));
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (size_t k = 0; k < list.size(); ++k) {
      auto p = make_post_processor(list[k], str(where, ".processors[", k, "]"));
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceProcessing>(std::move(parts));
  }
  throw Error(str(where, ": unsupported post-processor type '", type, "'"),
              "supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence");
}

}  // namespace vlm::tokenizers
