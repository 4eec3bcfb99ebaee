// Helpers for the image tests: reading the .npy fixtures written by
// tools/images/make_pil_fixtures.py, and comparing pixel buffers with a useful message.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "data/image.h"
#include "test_util.h"

namespace vlm::test {

struct Npy {
  std::string descr;           // "|u1", "<f4"
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;   // raw little-endian bytes
};

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// NumPy's .npy format, versions 1 and 2, C order only.
inline Npy read_npy(const std::string& path) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  Npy npy;
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
    ADD_FAILURE() << path << ": not a .npy file";
    return npy;
  }
  const bool v1 = bytes[6] == 1;
  const size_t header_len = v1 ? (bytes[8] | (bytes[9] << 8)) : (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16));
  const size_t start = v1 ? 10 : 12;
  const std::string header(bytes.begin() + start, bytes.begin() + start + header_len);
  std::smatch m;
  std::regex_search(header, m, std::regex("'descr': '([^']+)'"));
  npy.descr = m[1];
  EXPECT_EQ(header.find("'fortran_order': True"), std::string::npos) << path;
  std::regex_search(header, m, std::regex("'shape': \\(([^)]*)\\)"));
  const std::string dims = m[1];
  const std::regex number("\\d+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    npy.shape.push_back(std::stoll(it->str()));
  }
  npy.data.assign(bytes.begin() + start + header_len, bytes.end());
  return npy;
}

// A (H, W, 3) uint8 .npy as an Image.
inline data::Image npy_image(const std::string& fixture_name) {
  const Npy npy = read_npy(fixture(fixture_name));
  data::Image image;
  EXPECT_EQ(npy.descr, "|u1") << fixture_name;
  if (npy.shape.size() != 3 || npy.shape[2] != 3) {
    ADD_FAILURE() << fixture_name << ": expected shape (H, W, 3)";
    return image;
  }
  image.height = static_cast<int>(npy.shape[0]);
  image.width = static_cast<int>(npy.shape[1]);
  image.rgb = npy.data;
  return image;
}

inline std::vector<float> npy_floats(const std::string& fixture_name, std::vector<int64_t>* shape = nullptr) {
  const Npy npy = read_npy(fixture(fixture_name));
  EXPECT_EQ(npy.descr, "<f4") << fixture_name;
  std::vector<float> out(npy.data.size() / 4);
  std::memcpy(out.data(), npy.data.data(), out.size() * 4);
  if (shape != nullptr) *shape = npy.shape;
  return out;
}

// Compares sizes and every byte; the message gives the count of differing values, the largest
// difference and the first differing pixel.
inline ::testing::AssertionResult images_near(const data::Image& actual, const data::Image& expected,
                                              int tolerance = 0) {
  if (actual.width != expected.width || actual.height != expected.height) {
    return ::testing::AssertionFailure() << "size " << actual.width << "x" << actual.height << " vs expected "
                                         << expected.width << "x" << expected.height;
  }
  size_t differing = 0, first = 0;
  int max_diff = 0;
  for (size_t i = 0; i < actual.rgb.size(); ++i) {
    const int d = std::abs(int{actual.rgb[i]} - int{expected.rgb[i]});
    if (d > tolerance) {
      if (differing++ == 0) first = i;
    }
    max_diff = std::max(max_diff, d);
  }
  if (differing == 0) return ::testing::AssertionSuccess() << "max |d| = " << max_diff;
  const size_t px = first / 3;
  return ::testing::AssertionFailure() << differing << " of " << actual.rgb.size() << " values differ by more than "
                                       << tolerance << " (max |d| = " << max_diff << "); first at x="
                                       << px % actual.width << " y=" << px / actual.width << " c=" << first % 3
                                       << ": " << int{actual.rgb[first]} << " vs " << int{expected.rgb[first]};
}

}  // namespace vlm::test
