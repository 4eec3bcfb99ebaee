// Images a client sends, as OpenAI's image_url forms: `data:image/...;base64,` URLs, raw base64,
// `file://` paths only under --media-dir (no `..`, no symlink leading out), and `http(s)://` URLs
// only with --allow-remote-images (fetched with the downloader's rules: timeouts, a byte cap while
// receiving, an image content type). Sizes are checked from the header (data::probe_image) before
// any pixel memory is allocated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace vlm::serve {

struct ImageLimits {
  std::string media_dir;                 // empty: file:// refused
  int64_t max_pixels = 16'777'216;       // width x height, e.g. 4096 x 4096
  bool allow_remote = false;             // http(s):// URLs fetched (the server then reaches what it can reach)
  int64_t max_remote_bytes = 20 << 20;   // a larger remote body is cut off and refused
  double remote_timeout_s = 10;          // whole transfer, per image
};

// Decodes the image an image_url `url` names; ApiError (400) naming `param` for anything wrong.
data::Image load_image_url(const std::string& url, const std::string& param, const ImageLimits& limits);

// Standard base64 (RFC 4648; padding optional, ASCII whitespace skipped); nullopt-like: throws ApiError.
std::vector<uint8_t> base64_decode(const std::string& text, const std::string& param);
std::string base64_encode(const uint8_t* data, size_t size);

}  // namespace vlm::serve
