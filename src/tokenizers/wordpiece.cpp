// WordPiece (greedy longest-match-first with continuing_subword_prefix and
// max_input_chars_per_word, tokenizers/src/models/wordpiece) and WordLevel (whole-word lookup
// with unk) models, and the model factory for tokenizer.json's "model" section.
#include "core/error.h"
#include "tokenizers/components.h"
#include "tokenizers/vocab.h"

namespace vlm::tokenizers {

std::unique_ptr<Model> make_bpe(const Json& j, const std::string& where);

namespace {

class WordPiece : public Model {
 public:
  WordPiece(const Json& j, const std::string& where) {
    vocab_ = Vocab::from_json(json_at(j, "vocab", where), where + ".vocab");
    unk_token_ = j.contains("unk_token") ? json_string(j, "unk_token", where) : "[UNK]";
    prefix_ = j.contains("continuing_subword_prefix") ? json_string(j, "continuing_subword_prefix", where) : "##";
    if (j.contains("max_input_chars_per_word")) {
      const Json& m = j["max_input_chars_per_word"];
      if (!m.is_number_integer() || m.get<int64_t>() < 0) throw Error(str(where, ": 'max_input_chars_per_word' must be a non-negative integer"));
      max_chars_ = m.get<size_t>();
    }
    const auto unk = vocab_.find(unk_token_);
    if (!unk) throw Error(str(where, ": unk_token '", unk_token_, "' is not in the vocabulary"));
    unk_id_ = *unk;
  }

  void tokenize(std::string_view w, std::vector<Token>& out) const override {
    size_t chars = 0;
    for (size_t i = 0; i < w.size(); i += utf8_len_from_lead(static_cast<unsigned char>(w[i]))) ++chars;
    if (chars > max_chars_) {
      out.push_back({unk_id_, 0, static_cast<uint32_t>(w.size())});
      return;
    }
    const size_t first = out.size();
    std::string scratch;
    size_t start = 0;
    while (start < w.size()) {
      size_t end = w.size();
      std::optional<uint32_t> found;
      while (start < end) {
        std::string_view sub = w.substr(start, end - start);
        if (start > 0) {
          scratch.assign(prefix_);
          scratch.append(sub);
          sub = scratch;
        }
        found = vocab_.find(sub);
        if (found) break;
        // step back one character
        size_t k = end - 1;
        while (k > start && (static_cast<unsigned char>(w[k]) & 0xC0) == 0x80) --k;
        end = k;
      }
      if (!found) {
        out.resize(first);
        out.push_back({unk_id_, 0, static_cast<uint32_t>(w.size())});
        return;
      }
      out.push_back({*found, static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
      start = end;
    }
  }

  std::optional<uint32_t> token_to_id(std::string_view token) const override { return vocab_.find(token); }
  const std::string* id_to_token(uint32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  Vocab vocab_;
  std::string unk_token_, prefix_;
  size_t max_chars_ = 100;
  uint32_t unk_id_ = 0;
};

class WordLevel : public Model {
 public:
  WordLevel(const Json& j, const std::string& where) {
    vocab_ = Vocab::from_json(json_at(j, "vocab", where), where + ".vocab");
    unk_token_ = j.contains("unk_token") ? json_string(j, "unk_token", where) : "<unk>";
    unk_id_ = vocab_.find(unk_token_);
  }

  void tokenize(std::string_view w, std::vector<Token>& out) const override {
    if (const auto id = vocab_.find(w)) {
      out.push_back({*id, 0, static_cast<uint32_t>(w.size())});
    } else if (unk_id_) {
      out.push_back({*unk_id_, 0, static_cast<uint32_t>(w.size())});
    } else {
      throw Error(str("WordLevel: '", w, "' is not in the vocabulary and unk_token '", unk_token_,
                      "' is not either"));
    }
  }

  std::optional<uint32_t> token_to_id(std::string_view token) const override { return vocab_.find(token); }
  const std::string* id_to_token(uint32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  Vocab vocab_;
  std::string unk_token_;
  std::optional<uint32_t> unk_id_;
};

}  // namespace

std::unique_ptr<Model> make_model(const Json& j, const std::string& where) {
  if (!j.is_object()) throw Error(str(where, ": 'model' must be an object"));
  std::string type;
  if (j.contains("type")) {
    type = json_string(j, "type", where);
  } else if (j.contains("merges")) {  // old files omit the type
    type = "BPE";
  } else if (j.contains("continuing_subword_prefix") || j.contains("max_input_chars_per_word")) {
    type = "WordPiece";
  } else {
    type = "WordLevel";
  }
  if (type == "BPE") return make_bpe(j, where);
  if (type == "WordPiece") return std::make_unique<WordPiece>(j, where);
  if (type == "WordLevel") return std::make_unique<WordLevel>(j, where);
  throw Error(str(where, ": unsupported model type '", type, "'"), "supported: BPE, WordPiece, WordLevel");
}

}  // namespace vlm::tokenizers
