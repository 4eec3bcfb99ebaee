// pycocoevalcap's PTBTokenizer (Stanford PTBTokenizer 3.4.1, -preserveLines -lowerCase, then its
// punctuation list removed) for the English caption text it is used on. Covered: whitespace,
// punctuation split off words (. , ; : ? ! quotes brackets), runs of dots/dashes, internal
// hyphens, decimal points, digit commas/colons, acronyms (u.s.), clitics ('s 're 've 'll 'm 'd
// n't), "cannot". Brackets become -lrb-/-rrb-/-lsb-/... and, lower-cased after tokenization, are
// NOT in the removal list, exactly as in pycocoevalcap. Not covered: Americanize, "gonna", / and *.
#include "eval/ptb_tokenizer.h"

// GCC 12 at -O3 reports an impossible memcpy size inside libstdc++'s string code here (GCC
// bug 105651, a false positive fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wrestrict"
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif

#include <array>
#include <cctype>

namespace vlm::eval {
namespace {

// The list in ptbtokenizer.py; the upper-case bracket names can never match lower-cased tokens.
constexpr std::array<std::string_view, 17> kPunctuations = {
    "''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"};

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
// Letters, digits, underscore and any byte of a UTF-8 sequence continue a word.
bool is_word_char(char c) { return is_alnum(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A connector character at s[j] that stays inside the word it joins.
bool joins(std::string_view s, size_t j) {
  if (j == 0 || j + 1 >= s.size()) return false;
  const char prev = s[j - 1], c = s[j], next = s[j + 1];
  switch (c) {
    case '-': return is_word_char(prev) && is_word_char(next);
    case '.': return is_alnum(prev) && is_alnum(next);
    case ',':
    case ':': return is_digit(prev) && is_digit(next);
    case '&': return is_alpha(prev) && is_alpha(next);
    default: return false;
  }
}

// Length of a clitic ('s 're 've 'll 'm 'd, any case) starting at the apostrophe s[j], or 0.
size_t clitic_at(std::string_view s, size_t j) {
  if (j >= s.size() || s[j] != '\'') return 0;
  for (std::string_view c : {"s", "re", "ve", "ll", "m", "d"}) {
    if (j + 1 + c.size() > s.size()) continue;
    if (lower(s.substr(j + 1, c.size())) != c) continue;
    const size_t end = j + 1 + c.size();
    if (end == s.size() || !is_alnum(s[end])) return 1 + c.size();
  }
  return 0;
}

// A word whose final period PTBTokenizer keeps: acronyms (u.s) and common abbreviations.
bool keeps_period(std::string_view word) {
  if (word.find('.') != std::string_view::npos) {
    bool acronym = true;
    for (size_t i = 0; i < word.size(); ++i) {
      const bool letter_slot = i % 2 == 0;
      if (letter_slot ? !is_alpha(word[i]) : word[i] != '.') acronym = false;
    }
    if (acronym) return true;
  }
  static constexpr std::array<std::string_view, 14> kAbbreviations = {
      "mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "vs", "etc", "inc", "ltd", "co", "corp"};
  const std::string w = lower(word);
  for (std::string_view a : kAbbreviations) {
    if (w == a) return true;
  }
  return false;
}

// "n't" at the apostrophe s[j]: preceded by n, followed by t and no further letter or digit.
bool is_nt(std::string_view s, size_t j) {
  return j > 0 && j + 1 < s.size() && s[j] == '\'' && (s[j - 1] == 'n' || s[j - 1] == 'N') &&
         (s[j + 1] == 't' || s[j + 1] == 'T') && (j + 2 == s.size() || !is_alnum(s[j + 2]));
}

// Reads a word starting at s[i] (a word character) and appends its tokens; returns the end.
size_t lex_word(std::string_view s, size_t i, std::vector<std::string>& out) {
  size_t j = i;
  while (j < s.size()) {
    if (is_word_char(s[j]) || joins(s, j)) {
      ++j;
    } else if (s[j] == '\'' && j + 1 < s.size() && is_alpha(s[j + 1]) && clitic_at(s, j) == 0 &&
               !is_nt(s, j)) {
      ++j;  // o'clock, o'neil: an apostrophe inside a word that is not a clitic
    } else {
      break;
    }
  }
  std::string word(s.substr(i, j - i));
  // n't: "don't" -> "do" "n't", "can't" -> "ca" "n't".
  if (is_nt(s, j)) {
    std::string nt(1, word.back());  // "n" or "N", then "'t"
    nt.append(s.data() + j, 2);
    if (word.size() > 1) out.push_back(word.substr(0, word.size() - 1));
    out.push_back(std::move(nt));
    return j + 2;
  }
  if (const size_t c = clitic_at(s, j); c > 0) {
    out.push_back(word);
    out.emplace_back(s.substr(j, c));
    return j + c;
  }
  if (lower(word) == "cannot") {
    out.push_back(word.substr(0, 3));
    out.push_back(word.substr(3));
    return j;
  }
  if (j < s.size() && s[j] == '.' && (j + 1 == s.size() || s[j + 1] != '.') && keeps_period(word)) {
    out.push_back(word + ".");
    return j + 1;
  }
  out.push_back(word);
  return j;
}

// Run of one character starting at s[i]; returns its length.
size_t run_of(std::string_view s, size_t i, std::string_view chars) {
  size_t j = i;
  while (j < s.size() && chars.find(s[j]) != std::string_view::npos) ++j;
  return j - i;
}

void lex_chunk(std::string_view s, std::vector<std::string>& out) {
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (is_word_char(c)) {
      i = lex_word(s, i, out);
      continue;
    }
    size_t len = 1;
    switch (c) {
      case '.':
        len = run_of(s, i, ".");
        out.emplace_back(len >= 2 ? "..." : ".");
        break;
      case '-':
        len = run_of(s, i, "-");
        out.emplace_back(len >= 2 ? "--" : "-");
        break;
      case '?':
      case '!':
        len = run_of(s, i, "?!");
        out.emplace_back(s.substr(i, len));
        break;
      case '"': out.emplace_back(i == 0 ? "``" : "''"); break;
      case '`':
        len = run_of(s, i, "`");
        out.emplace_back(len >= 2 ? "``" : "`");
        break;
      case '\'':
        if (const size_t cl = clitic_at(s, i); cl > 0) {  // "'s" after a word or standing alone
          len = cl;
          out.emplace_back(s.substr(i, cl));
        } else {
          len = run_of(s, i, "'");
          out.emplace_back(len >= 2 ? "''" : "'");
        }
        break;
      case '(': out.emplace_back("-LRB-"); break;
      case ')': out.emplace_back("-RRB-"); break;
      case '[': out.emplace_back("-LSB-"); break;
      case ']': out.emplace_back("-RSB-"); break;
      case '{': out.emplace_back("-LCB-"); break;
      case '}': out.emplace_back("-RCB-"); break;
      default: out.emplace_back(1, c); break;
    }
    i += len;
  }
}

bool is_removed(const std::string& token) {
  for (std::string_view p : kPunctuations) {
    if (token == p) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> ptb_tokenize(std::string_view caption) {
  std::vector<std::string> raw;
  size_t i = 0;
  while (i < caption.size()) {
    while (i < caption.size() && std::isspace(static_cast<unsigned char>(caption[i])) != 0) ++i;
    size_t j = i;
    while (j < caption.size() && std::isspace(static_cast<unsigned char>(caption[j])) == 0) ++j;
    if (j > i) lex_chunk(caption.substr(i, j - i), raw);
    i = j;
  }
  std::vector<std::string> tokens;
  for (const std::string& t : raw) {
    std::string l = lower(t);  // -lowerCase lowers every token after lexing, brackets included
    if (!is_removed(l)) tokens.push_back(std::move(l));
  }
  return tokens;
}

std::string ptb_tokenize_joined(std::string_view caption) {
  std::string out;
  for (const std::string& t : ptb_tokenize(caption)) {
    if (!out.empty()) out += ' ';
    out += t;
  }
  return out;
}

}  // namespace vlm::eval
