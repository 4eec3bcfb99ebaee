// Helpers shared by the image_*.cpp files (not part of the public image API).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vlm::data {

enum class ImageFormat { kJpeg, kPng, kWebp };

// Throws ImageError: "empty", "truncated" (a cut-off signature), "unsupported_format".
ImageFormat sniff_format(std::span<const uint8_t> bytes, const std::string& name);
// Throws ImageError "corrupt" for sizes <= 0 and "too_large" above kMaxImageSide/kMaxImagePixels.
void check_dimensions(int64_t width, int64_t height, const std::string& name);
// The whole file via data/file_bytes.h (bounded, special files refused); throws FileError.
std::vector<uint8_t> read_binary_file(const std::string& path);

}  // namespace vlm::data
