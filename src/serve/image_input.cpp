// Image inputs of requests (see image_input.h). Base64 is a dozen lines, not worth a dependency.
#include "serve/image_input.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "data/download.h"
#include "data/sources.h"
#include "serve/api_error.h"

namespace fs = std::filesystem;

namespace vlm::serve {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // '-' and '_': the URL-safe alphabet
  if (c == '/' || c == '_') return 63;
  return -1;
}

data::Image decode_checked(const std::vector<uint8_t>& bytes, const std::string& param, const ImageLimits& limits) {
  if (bytes.empty()) throw ApiError(400, "the image is empty", param, "invalid_image");
  try {
    const data::ImageInfo info = data::probe_image(bytes, param);
    const int64_t pixels = static_cast<int64_t>(info.width) * info.height;
    if (pixels > limits.max_pixels) {
      throw ApiError(400,
                     str("the image is ", info.width, "x", info.height, " = ", pixels, " pixels, over the limit of ",
                         limits.max_pixels, " (--max-image-pixels)"),
                     param, "image_too_large");
    }
    return data::decode_image(bytes, param);
  } catch (const data::ImageError& e) {
    throw ApiError(400, str("the image could not be decoded (", e.reason(), "): ", e.what()), param, "invalid_image");
  }
}

std::vector<uint8_t> read_media_file(const std::string& url, const std::string& param, const ImageLimits& limits) {
  if (limits.media_dir.empty()) {
    throw ApiError(400, "file:// images are off; start the server with --media-dir DIR to serve files under DIR",
                   param, "file_urls_disabled");
  }
  const fs::path path(url.substr(std::string("file://").size()));
  for (const auto& part : path) {
    if (part == "..") throw ApiError(400, "a file:// path may not contain '..'", param, "path_outside_media_dir");
  }
  const fs::path root = fs::weakly_canonical(limits.media_dir);
  const fs::path wanted = path.is_absolute() ? path : root / path;
  std::error_code ec;
  const fs::path real = fs::canonical(wanted, ec);  // symlinks resolved
  if (ec || !fs::is_regular_file(real)) throw ApiError(400, "no such image under --media-dir", param, "file_not_found");
  const std::string r = real.string(), base = root.string() + "/";
  if (r.compare(0, base.size(), base) != 0) {
    throw ApiError(400, "the file is outside --media-dir", param, "path_outside_media_dir");
  }
  return data::read_file_bytes(r);
}

std::vector<uint8_t> fetch_remote(const std::string& url, const std::string& param, const ImageLimits& limits) {
  if (!limits.allow_remote) {
    throw ApiError(400,
                   "remote image URLs are off; send the image as a data: URL or base64, or start the server with "
                   "--allow-remote-images",
                   param, "remote_images_disabled");
  }
  data::DownloadOptions options;
  options.concurrency = 1;
  options.retries = 0;
  options.connect_timeout_s = std::min(5.0, limits.remote_timeout_s);
  options.timeout_s = limits.remote_timeout_s;
  options.max_bytes = limits.max_remote_bytes;
  options.user_agent = "vlm-serve/1.0";
  try {
    return data::fetch_url(url, options);
  } catch (const FileError& e) {
    throw ApiError(400, str("the image URL ", e.what()), param, "remote_image_failed");
  }
}

}  // namespace

std::vector<uint8_t> base64_decode(const std::string& text, const std::string& param) {
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    const int v = base64_value(c);
    if (v < 0 || pad > 0) throw ApiError(400, "invalid base64 in the image data", param, "invalid_base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xFF));
    }
  }
  if (bits >= 6 || pad > 2) throw ApiError(400, "invalid base64 length in the image data", param, "invalid_base64");
  return out;
}

std::string base64_encode(const uint8_t* data, size_t size) {
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (size_t i = 0; i < size; i += 3) {
    const uint32_t n = (uint32_t{data[i]} << 16) | (i + 1 < size ? uint32_t{data[i + 1]} << 8 : 0) |
                       (i + 2 < size ? uint32_t{data[i + 2]} : 0);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < size ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < size ? kAlphabet[n & 63] : '=');
  }
  return out;
}

data::Image load_image_url(const std::string& url, const std::string& param, const ImageLimits& limits) {
  if (url.rfind("data:", 0) == 0) {
    const size_t comma = url.find(',');
    if (comma == std::string::npos || comma < 7 || url.compare(comma - 7, 7, ";base64") != 0) {
      throw ApiError(400, "a data: URL must be data:image/...;base64,<data>", param, "invalid_image_url");
    }
    return decode_checked(base64_decode(url.substr(comma + 1), param), param, limits);
  }
  if (url.rfind("file://", 0) == 0) return decode_checked(read_media_file(url, param, limits), param, limits);
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
    return decode_checked(fetch_remote(url, param, limits), param, limits);
  }
  return decode_checked(base64_decode(url, param), param, limits);  // raw base64
}

}  // namespace vlm::serve
