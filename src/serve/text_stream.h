// Turns the growing decode of a sequence's tokens into stream deltas the way llama.cpp's server
// and transformers' TextStreamer do: text is released only when it decodes cleanly (never half a
// UTF-8 character, never a trailing U+FFFD from an unfinished byte-level token), text that could
// still become a stop string is held back, and a stop string ends the text before it.
#pragma once

#include <string>
#include <vector>

namespace vlm::serve {

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stop = {}) : stop_(std::move(stop)) {}
  // `text`: the decode of every token so far. Returns the new text that is safe to send.
  std::string update(const std::string& text);
  // The last piece when the sequence ends (everything not sent yet, cut at a stop string).
  std::string finish(const std::string& text);
  bool stopped() const { return stopped_; }      // a stop string was found
  const std::string& sent() const { return sent_; }

 private:
  std::string release(const std::string& text, size_t end);
  std::vector<std::string> stop_;
  std::string sent_;
  bool stopped_ = false;
};

// Length of the longest prefix of `s` that ends on a complete UTF-8 character and not in U+FFFD.
size_t utf8_clean_length(const std::string& s);

}  // namespace vlm::serve
