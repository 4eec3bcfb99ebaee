// Images as plain RGB buffers: decoding JPEG (libturbojpeg), PNG (libpng) and WebP (libwebp)
// to 8-bit RGB the way PIL's Image.open(...).convert("RGB") does, EXIF orientation, and
// PNG/JPEG encoding. No torch here: the tensor bridge is data/preprocess_torch.h.
// Errors carry a machine-readable reason so the data loader can count what it skipped.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"

namespace vlm::data {

// 8-bit RGB, row-major HWC: pixel (x, y) channel c is rgb[(y * width + x) * 3 + c].
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;

  Image() = default;
  Image(int w, int h) : width(w), height(h), rgb(static_cast<size_t>(w) * h * 3, 0) {}
  uint8_t* pixel(int x, int y) { return rgb.data() + (static_cast<size_t>(y) * width + x) * 3; }
  const uint8_t* pixel(int x, int y) const { return rgb.data() + (static_cast<size_t>(y) * width + x) * 3; }
  bool empty() const { return width == 0 || height == 0; }
};

// Why an image could not be decoded; reason() is one of
// "empty", "truncated", "corrupt", "unsupported_format", "too_large".
class ImageError : public Error {
 public:
  ImageError(std::string reason, const std::string& name, const std::string& what)
      : Error(name + ": " + what), reason_(std::move(reason)) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

// Images with a side above this, or more pixels than kMaxImagePixels, are refused as
// "too_large" before any pixel memory is allocated (a 20-byte PNG can declare 2^31 x 2^31).
constexpr int kMaxImageSide = 32768;
constexpr int64_t kMaxImagePixels = int64_t{1} << 28;  // 268 M pixels, 805 MB of RGB

struct DecodeOptions {
  // Rotate/flip by the EXIF Orientation tag (JPEG APP1, PNG eXIf, WebP EXIF). PIL's
  // Image.open and transformers' processors do NOT do this (they need ImageOps.exif_transpose),
  // so a photo taken sideways reaches a HF model sideways. On for training data (the image
  // then looks the way its caption describes it); off to reproduce PIL pixel for pixel.
  bool apply_exif = true;
  // When > 0, a JPEG is decoded by libjpeg-turbo's DCT scaling at the smallest of 1/8, 1/4,
  // 1/2 that still leaves both sides >= min_side_hint (checked after EXIF rotation as well).
  // Several times faster for big photos, but not bit-identical to PIL's full decode + resize.
  int min_side_hint = 0;
  // libjpeg-turbo's fast integer IDCT and simple chroma upsampling (TJFLAG_FASTDCT |
  // TJFLAG_FASTUPSAMPLE): faster JPEG decoding, values a few levels off PIL's.
  bool fast_jpeg = false;
};

// Decodes JPEG, PNG or WebP (sniffed from the bytes, not the name); `name` is used in errors.
// Grayscale, palette, 16-bit and alpha inputs become RGB as PIL's convert("RGB") makes them
// (alpha dropped, 16 bits -> high byte, CMYK via PIL's formula), with one deliberate
// difference: 16-bit grayscale keeps its high byte where PIL clips the value to 255.
Image decode_image(std::span<const uint8_t> bytes, const std::string& name, const DecodeOptions& options = {});
// Same, with the former signature's min_side_hint and EXIF applied.
Image decode_image(std::span<const uint8_t> bytes, const std::string& name, int min_side_hint);
// Reads the file (FileError when unreadable) and decodes it.
Image decode_image_file(const std::string& path, const DecodeOptions& options = {});

// The image's declared size without decoding pixels (throws ImageError like decode_image).
struct ImageInfo {
  int width = 0;
  int height = 0;
  std::string format;  // "jpeg", "png", "webp"
};
ImageInfo probe_image(std::span<const uint8_t> bytes, const std::string& name);

// EXIF Orientation (1..8) from a JPEG/PNG/WebP file's metadata; 1 when there is none.
int exif_orientation(std::span<const uint8_t> bytes);
// Applies an EXIF orientation value (1..8) to the pixels, as PIL's ImageOps.exif_transpose.
Image apply_orientation(const Image& image, int orientation);

// Encoders (8-bit RGB in, file bytes out). quality is libjpeg's 1..100, 4:2:0 subsampling.
std::vector<uint8_t> encode_png(const Image& image);
std::vector<uint8_t> encode_jpeg(const Image& image, int quality = 90);
// Writes atomically; throws FileError.
void write_png(const std::string& path, const Image& image);
void write_jpeg(const std::string& path, const Image& image, int quality = 90);

}  // namespace vlm::data
