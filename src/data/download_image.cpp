// The downloader's image side: magic-byte sniffing, decode (data/image.h), resize as
// img2dataset's resize modes (center_crop, keep_ratio, border-style pad) with the PIL-exact
// resampler of data/preprocess.h, and JPEG re-encoding.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "data/augment.h"
#include "data/download_internal.h"
#include "data/image.h"
#include "data/preprocess.h"

namespace vlm::data {

std::string sniff_image(std::span<const uint8_t> b) {
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "jpeg";
  if (b.size() >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0) return "png";
  if (b.size() >= 12 && std::memcmp(b.data(), "RIFF", 4) == 0 && std::memcmp(b.data() + 8, "WEBP", 4) == 0)
    return "webp";
  if (b.size() >= 6 && (std::memcmp(b.data(), "GIF87a", 6) == 0 || std::memcmp(b.data(), "GIF89a", 6) == 0))
    return "gif";
  return {};
}

namespace {

int scaled(int side, double scale) { return std::max(1, static_cast<int>(std::lround(side * scale))); }

Image resize_for_download(const Image& image, const DownloadOptions& o) {
  const int size = o.image_size;
  const int w = image.width, h = image.height;
  if (o.resize_mode == "none") return image;
  if (o.resize_mode == "keep_ratio") {
    const double s = static_cast<double>(size) / std::min(w, h);
    return resize_image(image, scaled(w, s), scaled(h, s), Resample::kBicubic);
  }
  if (o.resize_mode == "pad") {
    const double s = static_cast<double>(size) / std::max(w, h);
    const Image r = resize_image(image, std::min(size, scaled(w, s)), std::min(size, scaled(h, s)), Resample::kBicubic);
    Image out(size, size);  // black border, as img2dataset's "border" mode
    const int x0 = (size - r.width) / 2, y0 = (size - r.height) / 2;
    for (int y = 0; y < r.height; ++y) std::memcpy(out.pixel(x0, y0 + y), r.pixel(0, y), static_cast<size_t>(r.width) * 3);
    return out;
  }
  // center_crop: the short side to `size`, then the middle size x size.
  const double s = static_cast<double>(size) / std::min(w, h);
  const Image r = resize_image(image, std::max(size, scaled(w, s)), std::max(size, scaled(h, s)), Resample::kBicubic);
  return crop_image(r, (r.width - size) / 2, (r.height - size) / 2, size, size);
}

}  // namespace

ProcessedImage process_image(std::span<const uint8_t> bytes, const std::string& name, const DownloadOptions& options) {
  ProcessedImage out;
  const std::string format = sniff_image(bytes);
  if (format.empty() || format == "gif") {
    out.kind = "not_image";
    out.message = format.empty() ? "the bytes are not JPEG, PNG or WebP" : "GIF is not supported";
    return out;
  }
  try {
    DecodeOptions decode;
    decode.min_side_hint = options.resize_mode == "none" ? 0 : options.image_size;
    const Image image = decode_image(bytes, name, decode);
    const ImageInfo info = probe_image(bytes, name);
    out.original_width = info.width;
    out.original_height = info.height;
    const Image resized = resize_for_download(image, options);
    out.width = resized.width;
    out.height = resized.height;
    out.jpeg = encode_jpeg(resized, options.jpeg_quality);
  } catch (const ImageError& e) {
    out.kind = "image_" + e.reason();
    out.message = e.what();
  }
  return out;
}

}  // namespace vlm::data
