// Every kind of broken image file gives an ImageError with the right reason(), never a crash:
// these are what the data loader counts and skips in web-scraped data.
#include <gtest/gtest.h>

#include <random>

#include "data/image.h"
#include "image_test_util.h"

namespace vlm::data {
namespace {

using test::fixture;
using test::read_bytes;

std::string reason_of(const std::vector<uint8_t>& bytes) {
  try {
    decode_image(bytes, "bad");
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("bad: "), std::string::npos) << e.what();  // names the file
    return e.reason();
  }
  return "decoded";
}

std::vector<uint8_t> cut(std::vector<uint8_t> bytes, size_t keep) {
  bytes.resize(keep);
  return bytes;
}

TEST(BadImage, Empty) { EXPECT_EQ(reason_of({}), "empty"); }

TEST(BadImage, TruncatedJpeg) {
  const std::vector<uint8_t> jpeg = read_bytes(fixture("images/photo.jpg"));
  EXPECT_EQ(reason_of(cut(jpeg, jpeg.size() / 2)), "truncated");
  EXPECT_EQ(reason_of(cut(jpeg, jpeg.size() - 50)), "truncated");
  EXPECT_EQ(reason_of(cut(jpeg, 2)), "truncated");   // inside the signature
  EXPECT_EQ(reason_of(cut(jpeg, 100)), "truncated");  // inside the headers
}

TEST(BadImage, TruncatedPng) {
  const std::vector<uint8_t> png = read_bytes(fixture("images/alpha.png"));
  EXPECT_EQ(reason_of(cut(png, png.size() / 2)), "truncated");
  EXPECT_EQ(reason_of(cut(png, 20)), "truncated");
  EXPECT_EQ(reason_of(cut(png, 5)), "truncated");
}

TEST(BadImage, TruncatedWebp) {
  const std::vector<uint8_t> webp = read_bytes(fixture("images/lossy.webp"));
  EXPECT_EQ(reason_of(cut(webp, webp.size() / 2)), "truncated");
  EXPECT_EQ(reason_of(cut(webp, 10)), "truncated");
}

TEST(BadImage, CorruptData) {
  std::vector<uint8_t> png = read_bytes(fixture("images/alpha.png"));
  for (size_t i = 60; i < png.size() - 20; i += 7) png[i] ^= 0x5A;  // damage IDAT (CRC and zlib)
  EXPECT_EQ(reason_of(png), "corrupt");
  std::vector<uint8_t> jpeg = read_bytes(fixture("images/photo.jpg"));
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {  // SOF0: a frame with zero components
      jpeg[i + 9] = 0;
      break;
    }
  }
  EXPECT_EQ(reason_of(jpeg), "corrupt");
  std::vector<uint8_t> webp = read_bytes(fixture("images/lossy.webp"));
  for (size_t i = 20; i < 40; ++i) webp[i] = 0xEE;
  EXPECT_EQ(reason_of(webp), "corrupt");
}

TEST(BadImage, RandomBytesAndTextAreUnsupported) {
  std::mt19937 rng(7);
  std::vector<uint8_t> noise(4096);
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  noise[0] = 0x00;  // not accidentally a signature
  EXPECT_EQ(reason_of(noise), "unsupported_format");
  const std::string text = "a photo of a cat\nsitting on a mat\n";
  EXPECT_EQ(reason_of(std::vector<uint8_t>(text.begin(), text.end())), "unsupported_format");
  const std::string gif = "GIF89a\x01\x00\x01\x00";
  EXPECT_EQ(reason_of(std::vector<uint8_t>(gif.begin(), gif.end())), "unsupported_format");
}

TEST(BadImage, HugeDeclaredDimensionsAreRefusedBeforeAllocation) {
  std::vector<uint8_t> png = read_bytes(fixture("images/alpha.png"));
  // IHDR width/height at bytes 16..23, big-endian: declare 100000 x 100000.
  for (int at : {16, 20}) {
    png[at] = 0x00, png[at + 1] = 0x01, png[at + 2] = 0x86, png[at + 3] = 0xA0;
  }
  EXPECT_EQ(reason_of(png), "too_large");
  std::vector<uint8_t> jpeg = read_bytes(fixture("images/photo.jpg"));
  // The SOF0 marker (FF C0): length(2) precision(1) height(2) width(2): declare 65000 x 65000.
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) {
      jpeg[i + 5] = 0xFD, jpeg[i + 6] = 0xE8, jpeg[i + 7] = 0xFD, jpeg[i + 8] = 0xE8;
      break;
    }
  }
  EXPECT_EQ(reason_of(jpeg), "too_large");
}

TEST(BadImage, EveryPrefixOfEveryFormatFailsCleanly) {
  // No prefix may crash or decode: each is one of the reasons (mostly "truncated").
  for (const char* name : {"gray.png", "gray.jpg", "lossy.webp", "palette.png"}) {
    const std::vector<uint8_t> bytes = read_bytes(fixture(std::string("images/") + name));
    for (size_t n = 0; n + 1 < bytes.size(); n += 1 + n / 8) {
      const std::string reason = reason_of(cut(bytes, n));
      EXPECT_TRUE(reason == "truncated" || reason == "corrupt" || reason == "empty")
          << name << " cut at " << n << ": " << reason;
    }
  }
}

TEST(BadImage, MissingFileIsAFileError) {
  EXPECT_THROW(decode_image_file("/nonexistent/x.png"), FileError);
}

}  // namespace
}  // namespace vlm::data
