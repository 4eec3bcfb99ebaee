// PCRE2 (8-bit, UTF + UCP, JIT-compiled) behind tokenizers' Pattern. Match data is per thread
// so one compiled pattern serves concurrent encoders. Oniguruma's \s (White_Space) and \w
// (Letter, Mark, Decimal_Number, Connector_Punctuation) are substituted because PCRE2's differ.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizers/regex.h"

#include <pcre2.h>

#include "core/error.h"

namespace vlm::tokenizers {

namespace {

constexpr const char* kSpaceSet = "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
constexpr const char* kWordSet = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";

// Rewrites \s \S \w \W (outside and inside character classes) to explicit sets.
std::string to_oniguruma_sets(const std::string& re) {
  std::string out;
  int class_depth = 0;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      const char e = re[i + 1];
      const char* set = (e == 's' || e == 'S') ? kSpaceSet : (e == 'w' || e == 'W') ? kWordSet : nullptr;
      const bool negated = e == 'S' || e == 'W';
      if (set != nullptr && (class_depth == 0 || !negated)) {
        if (class_depth == 0) out += negated ? "[^" : "[";
        out += set;
        if (class_depth == 0) out += "]";
      } else {
        out += c;
        out += e;
      }
      ++i;
      continue;
    }
    if (c == '[') {
      ++class_depth;
      out += c;
      if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
      if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i];  // literal ] first in a class
      continue;
    }
    if (c == ']' && class_depth > 0) --class_depth;
    out += c;
  }
  return out;
}

// Per-thread match data and a JIT stack larger than the 32 KiB default, so long whitespace
// runs or letters cannot exhaust it.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(32, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  MatchState() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~MatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

}  // namespace

struct Pattern::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(code); }
};

Pattern Pattern::regex(const std::string& expression) {
  Pattern p;
  p.source_ = expression;
  const std::string rewritten = to_oniguruma_sets(expression);
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()), rewritten.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(error, msg, sizeof(msg));
    throw Error(str("cannot compile regex '", expression, "': ", reinterpret_cast<const char*>(msg), " at offset ",
                    offset));
  }
  p.code_ = std::make_shared<Code>();
  p.code_->code = code;
  p.code_->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return p;
}

Pattern Pattern::literal(const std::string& text) {
  Pattern p;
  p.source_ = text;
  return p;
}

void Pattern::find_pieces(std::string_view text, std::vector<Piece>& out) const {
  if (text.empty()) {
    out.push_back({0, 0, false});
    return;
  }
  size_t prev = 0;
  auto emit = [&](size_t start, size_t end) {
    if (prev != start) out.push_back({prev, start, false});
    out.push_back({start, end, true});
    prev = end;
  };
  if (code_ == nullptr) {
    if (!source_.empty()) {
      size_t at = text.find(source_);
      while (at != std::string_view::npos) {
        emit(at, at + source_.size());
        at = text.find(source_, at + source_.size());
      }
    }
  } else {
    thread_local MatchState state;
    pcre2_match_data* data = state.data;
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t pos = 0;
    while (pos <= text.size()) {
      const int rc = code_->jit ? pcre2_jit_match(code_->code, subject, text.size(), pos, 0, data, state.context)
                                : pcre2_match(code_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK,
                                              data, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0 && rc != 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof(msg));
        throw Error(str("regex '", source_, "' failed: ", reinterpret_cast<const char*>(msg)));
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data);
      const size_t start = ov[0], end = ov[1];
      if (end > start) {
        emit(start, end);
        pos = end;
      } else {  // empty match: step over one character
        if (start >= text.size()) break;
        pos = start + utf8_len_from_lead(static_cast<unsigned char>(text[start]));
      }
    }
  }
  if (prev != text.size()) out.push_back({prev, text.size(), false});
}

std::vector<Piece> Pattern::find_matches(std::string_view text) const {
  std::vector<Piece> pieces, matches;
  find_pieces(text, pieces);
  for (const Piece& p : pieces)
    if (p.is_match) matches.push_back(p);
  return matches;
}

}  // namespace vlm::tokenizers
