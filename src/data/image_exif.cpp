// EXIF orientation: finds the TIFF block (JPEG APP1 "Exif", PNG eXIf chunk, WebP EXIF chunk),
// reads tag 0x0112 from IFD0, and rotates/flips pixels as PIL's ImageOps.exif_transpose does.
// One tag in a bounds-checked walk is far less code and attack surface than handing untrusted
// bytes to a full EXIF library (libexif) to read a single short.
#include <cstring>

#include "data/image.h"

namespace vlm::data {
namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Orientation from a TIFF block ("II*\0" or "MM\0*" + IFD0 offset); 1 when absent or malformed.
int orientation_from_tiff(std::span<const uint8_t> tiff) {
  if (tiff.size() >= 6 && std::memcmp(tiff.data(), "Exif\0\0", 6) == 0) tiff = tiff.subspan(6);
  if (tiff.size() < 8) return 1;
  const bool little = tiff[0] == 'I' && tiff[1] == 'I';
  if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
  auto u16 = [&](size_t at) -> uint32_t {
    return little ? uint32_t{tiff[at]} | (uint32_t{tiff[at + 1]} << 8) : (uint32_t{tiff[at]} << 8) | tiff[at + 1];
  };
  auto u32 = [&](size_t at) -> uint32_t {
    return little ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
  };
  if (u16(2) != 42) return 1;
  const size_t ifd = u32(4);
  if (ifd + 2 > tiff.size()) return 1;
  const size_t count = u16(ifd);
  for (size_t i = 0; i < count; ++i) {
    const size_t entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.size()) return 1;
    if (u16(entry) != 0x0112) continue;
    if (u16(entry + 2) != 3) return 1;  // SHORT
    const uint32_t value = u16(entry + 8);
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
  }
  return 1;
}

std::span<const uint8_t> jpeg_exif(std::span<const uint8_t> b) {
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (b[pos] != 0xFF) return {};
    const uint8_t marker = b[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return {};  // start of scan / end of image
    const size_t length = (size_t{b[pos + 2]} << 8) | b[pos + 3];
    if (length < 2 || pos + 2 + length > b.size()) return {};
    if (marker == 0xE1 && length >= 8 && std::memcmp(&b[pos + 4], "Exif\0\0", 6) == 0) {
      return b.subspan(pos + 4, length - 2);
    }
    pos += 2 + length;
  }
  return {};
}

std::span<const uint8_t> png_exif(std::span<const uint8_t> b) {
  size_t pos = 8;
  while (pos + 12 <= b.size()) {
    const size_t length = be32(&b[pos]);
    if (length > b.size() - pos - 12) return {};
    if (std::memcmp(&b[pos + 4], "eXIf", 4) == 0) return b.subspan(pos + 8, length);
    if (std::memcmp(&b[pos + 4], "IEND", 4) == 0) return {};
    pos += 12 + length;
  }
  return {};
}

std::span<const uint8_t> webp_exif(std::span<const uint8_t> b) {
  size_t pos = 12;
  while (pos + 8 <= b.size()) {
    const size_t length = size_t{b[pos + 4]} | (size_t{b[pos + 5]} << 8) | (size_t{b[pos + 6]} << 16) |
                          (size_t{b[pos + 7]} << 24);
    if (length > b.size() - pos - 8) return {};
    if (std::memcmp(&b[pos], "EXIF", 4) == 0) return b.subspan(pos + 8, length);
    pos += 8 + length + (length & 1);
  }
  return {};
}

}  // namespace

int exif_orientation(std::span<const uint8_t> bytes) {
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8) return orientation_from_tiff(jpeg_exif(bytes));
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG", 4) == 0) return orientation_from_tiff(png_exif(bytes));
  if (bytes.size() >= 12 && std::memcmp(bytes.data(), "RIFF", 4) == 0 && std::memcmp(&bytes[8], "WEBP", 4) == 0) {
    return orientation_from_tiff(webp_exif(bytes));
  }
  return 1;
}

Image apply_orientation(const Image& in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const int w = in.width, h = in.height;
  const bool swap = orientation >= 5;  // transpose, rotations by 90 and transverse swap the sides
  Image out(swap ? h : w, swap ? w : h);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;
      switch (orientation) {
        case 2: sx = w - 1 - x; break;                        // mirror left-right
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;        // rotate 180
        case 4: sy = h - 1 - y; break;                        // mirror top-bottom
        case 5: sx = y; sy = x; break;                        // transpose
        case 6: sx = y; sy = h - 1 - x; break;                // rotate 90 clockwise
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;        // transverse
        case 8: sx = w - 1 - y; sy = x; break;                // rotate 90 counter-clockwise
        default: break;
      }
      std::memcpy(out.pixel(x, y), in.pixel(sx, sy), 3);
    }
  }
  return out;
}

}  // namespace vlm::data
