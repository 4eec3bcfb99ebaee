// UTF-8 and Unicode helpers for the tokenizer: decoding with validation, Rust's char predicates
// (is_whitespace, is_alphanumeric, is_numeric) as HF tokenizers uses them, BERT's punctuation and
// CJK tests, and lossy UTF-8 repair. Character properties come from utf8proc, not own tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vlm::tokenizers {

// Decodes the code point at s[i] and advances i; the input must be valid UTF-8.
inline char32_t next_char(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  if (b0 < 0xE0) {
    const char32_t c = ((b0 & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
    i += 2;
    return c;
  }
  if (b0 < 0xF0) {
    const char32_t c = ((b0 & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
                       (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
    i += 3;
    return c;
  }
  const char32_t c = ((b0 & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
                     ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) |
                     (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
  i += 4;
  return c;
}

inline size_t utf8_len(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }
// Byte length of the character starting with byte b0 (valid UTF-8).
inline size_t utf8_len_from_lead(unsigned char b0) { return b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4; }
void append_utf8(std::string& out, char32_t c);

// The byte offset of the first invalid sequence, or npos when `s` is valid UTF-8.
size_t find_invalid_utf8(std::string_view s);
// Throws vlm::Error naming `what` and the byte offset when `s` is not valid UTF-8.
void require_utf8(std::string_view s, std::string_view what);
// Rust's String::from_utf8_lossy: each maximal invalid subpart becomes U+FFFD.
std::string utf8_lossy(std::string_view bytes);

// Rust char::is_whitespace (the White_Space property).
bool is_whitespace(char32_t c);
// Rust char::is_alphabetic/is_numeric approximated by general categories (L*, N*).
bool is_alphanumeric(char32_t c);
bool is_numeric(char32_t c);
// HF tokenizers' BERT helpers: punctuation is ASCII punctuation or any P* category.
bool is_bert_punctuation(char32_t c);
bool is_bert_control(char32_t c);  // Cc/Cf/Cn/Co/Cs except \t \n \r
bool is_cjk_ideograph(char32_t c);
bool is_nonspacing_mark(char32_t c);  // Mn
bool is_combining_mark(char32_t c);   // Mn, Mc, Me
// A character with canonical combining class 0 that can never combine with what precedes it
// under (K)NFC; normalizing runs split before such characters equals normalizing the whole.
bool is_normalization_boundary(char32_t c);

// Rust char::to_lowercase: utf8proc's simple mapping plus U+0130's two-character expansion.
// Writes 1 or 2 code points into out and returns how many.
int to_lowercase(char32_t c, char32_t out[2]);

enum class NormForm { kNFC, kNFD, kNFKC, kNFKD };
// Number of code points in the full (canonical, or compatibility when `compat`) decomposition of c.
int decomposed_length(char32_t c, bool compat);
// Normalizes a valid UTF-8 run with utf8proc.
std::string normalize_utf8(std::string_view s, NormForm form);

}  // namespace vlm::tokenizers
