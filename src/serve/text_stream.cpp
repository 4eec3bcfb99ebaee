// Stream deltas from a growing decode (see text_stream.h).
#include "serve/text_stream.h"

#include <algorithm>

namespace vlm::serve {

size_t utf8_clean_length(const std::string& s) {
  size_t end = s.size();
  // An unfinished multi-byte character at the end: up to 3 continuation bytes after its lead byte.
  for (size_t back = 1; back <= 4 && back <= s.size(); ++back) {
    const auto c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    size_t need = 1;
    if ((c & 0xE0) == 0xC0) need = 2;
    else if ((c & 0xF0) == 0xE0) need = 3;
    else if ((c & 0xF8) == 0xF0) need = 4;
    if (need > back) end = s.size() - back;
    break;
  }
  static const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD: a byte-level token not complete yet
  while (end >= kReplacement.size() && s.compare(end - kReplacement.size(), kReplacement.size(), kReplacement) == 0) {
    end -= kReplacement.size();
  }
  return end;
}

std::string TextStream::release(const std::string& text, size_t end) {
  // Decoders are prefix-stable for the tokenizers used here; if one is not, wait for the end.
  if (end <= sent_.size() || text.compare(0, sent_.size(), sent_) != 0) return {};
  std::string delta = text.substr(sent_.size(), end - sent_.size());
  sent_ += delta;
  return delta;
}

std::string TextStream::update(const std::string& text) {
  if (stopped_) return {};
  size_t end = utf8_clean_length(text);
  for (const auto& stop : stop_) {
    if (stop.empty()) continue;
    const size_t at = text.find(stop);
    if (at != std::string::npos && at < end) {
      stopped_ = true;
      end = std::min(end, at);
    }
  }
  if (!stopped_) {
    // Hold back a tail that is the beginning of a stop string.
    for (const auto& stop : stop_) {
      for (size_t k = std::min(stop.size() - 1, end); k > 0; --k) {
        if (text.compare(end - k, k, stop, 0, k) == 0) {
          end -= k;
          break;
        }
      }
    }
  }
  return release(text, end);
}

std::string TextStream::finish(const std::string& text) {
  if (stopped_) return {};
  size_t end = text.size();
  for (const auto& stop : stop_) {
    if (stop.empty()) continue;
    const size_t at = text.find(stop);
    if (at != std::string::npos && at < end) {
      stopped_ = true;
      end = at;
    }
  }
  return release(text, end);
}

}  // namespace vlm::serve
