// Decoders (tokenizers/src/decoders): ByteLevel, WordPiece, Metaspace, ByteFallback, Fuse, Strip,
// Replace, BPEDecoder and Sequence, each a decode_chain over the token strings, plus the GPT-2
// byte <-> code point table that ByteLevel pre-tokenizer and decoder share.
#include "core/error.h"
#include "tokenizers/components.h"

namespace vlm::tokenizers {

namespace {

struct ByteTables {
  char32_t to_char[256];
  int to_byte[512];
  ByteTables() {
    for (int& b : to_byte) b = -1;
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      to_char[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      to_byte[to_char[b]] = b;
    }
  }
};

const ByteTables& tables() {
  static const ByteTables t;
  return t;
}

class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      const size_t mark = bytes.size();
      bool ok = true;
      for (size_t i = 0; i < t.size() && ok;) {
        const int b = unicode_to_byte(next_char(t, i));
        if (b < 0)
          ok = false;
        else
          bytes.push_back(static_cast<char>(b));
      }
      if (!ok) {  // a token outside the byte alphabet (an added token) keeps its own bytes
        bytes.resize(mark);
        bytes += t;
      }
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

std::string cleanup(std::string s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},           {" ,", ","},   {" ' ", "'"},   {" n't", "n't"},
      {" 'm", "'m"},   {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) {
    const std::string f(from), t(to);
    std::string out;
    size_t pos = 0, at;
    while ((at = s.find(f, pos)) != std::string::npos) {
      out.append(s, pos, at - pos);
      out += t;
      pos = at + f.size();
    }
    out.append(s, pos, std::string::npos);
    s = std::move(out);
  }
  return s;
}

class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0) {
        if (t.compare(0, prefix_.size(), prefix_) == 0)
          t.erase(0, prefix_.size());
        else {
          std::string spaced;
          spaced.reserve(t.size() + 1);
          spaced.push_back(' ');
          spaced.append(t);
          t = std::move(spaced);
        }
      }
      if (cleanup_) t = cleanup(std::move(t));
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool prepend) : replacement_(std::move(replacement)), prepend_(prepend) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& t = tokens[i];
      size_t pos = 0, at;
      while ((at = t.find(replacement_, pos)) != std::string::npos) {
        out.append(t, pos, at - pos);
        if (!(i == 0 && prepend_)) out += ' ';
        pos = at + replacement_.size();
      }
      out.append(t, pos, std::string::npos);
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool prepend_;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (find_invalid_utf8(pending) == std::string::npos)
        out.push_back(pending);
      else
        for (size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");
      pending.clear();
    };
    for (std::string& t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        const int hi = hex_digit(t[3]), lo = hex_digit(t[4]);
        if (hi >= 0 && lo >= 0) byte = hi * 16 + lo;
      }
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      std::vector<char32_t> chars;
      for (size_t i = 0; i < t.size();) chars.push_back(next_char(t, i));
      size_t begin = 0, end = chars.size();
      for (size_t k = 0; k < start_ && begin < end && chars[begin] == content_; ++k) ++begin;
      for (size_t k = 0; k < stop_ && end > begin && chars[end - 1] == content_; ++k) --end;
      std::string out;
      for (size_t k = begin; k < end; ++k) append_utf8(out, chars[k]);
      t = std::move(out);
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      std::vector<Piece> pieces;
      pattern_.find_pieces(t, pieces);
      std::string out;
      for (const Piece& p : pieces) {
        if (p.is_match)
          out += content_;
        else
          out.append(t, p.start, p.end - p.start);
      }
      t = std::move(out);
    }
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class BpeDecoder : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      const std::string with = i + 1 == tokens.size() ? "" : " ";
      std::string out;
      size_t pos = 0, at;
      while (!suffix_.empty() && (at = t.find(suffix_, pos)) != std::string::npos) {
        out.append(t, pos, at - pos);
        out += with;
        pos = at + suffix_.size();
      }
      out.append(t, pos, std::string::npos);
      t = std::move(out);
    }
  }

 private:
  std::string suffix_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

}  // namespace

const char32_t* bytes_to_unicode() { return tables().to_char; }
int unicode_to_byte(char32_t c) { return c < 512 ? tables().to_byte[c] : -1; }

std::unique_ptr<Decoder> make_decoder(const Json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = json_string(j, "type", where);
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "WordPiece")
    return std::make_unique<WordPieceDecoder>(j.contains("prefix") ? json_string(j, "prefix", where) : "##",
                                              json_bool(j, "cleanup", true, where));
  if (type == "Metaspace") {
    bool prepend = true;
    if (j.contains("prepend_scheme"))
      prepend = json_string(j, "prepend_scheme", where) != "never";
    else if (j.contains("add_prefix_space"))
      prepend = json_bool(j, "add_prefix_space", true, where);
    return std::make_unique<MetaspaceDecoder>(json_string(j, "replacement", where), prepend);
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    const std::string content = json_string(j, "content", where);
    size_t i = 0;
    if (content.empty()) throw Error(str(where, ": 'content' must be one character"));
    const char32_t c = next_char(content, i);
    return std::make_unique<StripDecoder>(c, j.value("start", size_t{0}), j.value("stop", size_t{0}));
  }
  if (type == "Replace")
    return std::make_unique<ReplaceDecoder>(json_pattern(json_at(j, "pattern", where), where + ".pattern"),
                                            json_string(j, "content", where));
  if (type == "BPEDecoder")
    return std::make_unique<BpeDecoder>(j.contains("suffix") ? json_string(j, "suffix", where) : "</w>");
  if (type == "Sequence") {
    const Json& list = json_at(j, "decoders", where);
    if (!list.is_array()) throw Error(str(where, ": 'decoders' must be a list"));
    std::vector<std::unique_ptr<Decoder>> parts;
    for (size_t k = 0; k < list.size(); ++k) {
      auto d = make_decoder(list[k], str(where, ".decoders[", k, "]"));
      if (d) parts.push_back(std::move(d));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  throw Error(str(where, ": unsupported decoder type '", type, "'"),
              "supported: ByteLevel, WordPiece, Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder, Sequence");
}

}  // namespace vlm::tokenizers
