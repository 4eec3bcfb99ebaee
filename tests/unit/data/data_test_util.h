// Helpers for the data tests: small images, files and tar shards written on the spot.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/image.h"

namespace vlm::test {

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A w x h image whose pixels encode `tag` (so tests can tell images apart after decoding).
inline data::Image tagged_image(int tag, int w = 16, int h = 12) {
  data::Image image(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = image.pixel(x, y);
      p[0] = static_cast<uint8_t>(tag * 7);
      p[1] = static_cast<uint8_t>(x * 9 + tag);
      p[2] = static_cast<uint8_t>(y * 13);
    }
  return image;
}

inline std::vector<uint8_t> tagged_png(int tag, int w = 16, int h = 12) { return data::encode_png(tagged_image(tag, w, h)); }

}  // namespace vlm::test
