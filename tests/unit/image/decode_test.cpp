// Decoding every colour type against PIL's Image.open(...).convert("RGB") (fixtures made by
// tools/images/make_pil_fixtures.py with PIL 9.4 on the same libjpeg-turbo 2.1.5 and libwebp
// 1.2.4, so all comparisons are exact: tolerance 0), EXIF orientation, encoders.
#include <gtest/gtest.h>

#include "data/image.h"
#include "image_test_util.h"

namespace vlm::data {
namespace {

using test::fixture;
using test::images_near;
using test::npy_image;
using test::read_bytes;

Image decode_fixture(const std::string& name, bool apply_exif = false) {
  DecodeOptions options;
  options.apply_exif = apply_exif;
  return decode_image_file(fixture("images/" + name), options);
}

class DecodeMatchesPil : public ::testing::TestWithParam<std::string> {};

TEST_P(DecodeMatchesPil, Exactly) {
  const std::string name = GetParam();
  std::string stem = name;
  std::replace(stem.begin(), stem.end(), '.', '_');
  EXPECT_TRUE(images_near(decode_fixture(name), npy_image("images/" + stem + ".decoded.npy"), 0)) << name;
}

INSTANTIATE_TEST_SUITE_P(AllColourTypes, DecodeMatchesPil,
                         ::testing::Values("alpha.png", "palette.png", "gray.png", "gray1.png", "gray_alpha.png",
                                           "cmyk.jpg", "gray.jpg", "lossy.webp", "lossless_alpha.webp",
                                           "exif6.jpg"),
                         [](const auto& info) {
                           std::string s = info.param;
                           std::replace(s.begin(), s.end(), '.', '_');
                           return s;
                         });

TEST(Decode, PhotoJpegMatchesPilExactly) {
  // PIL's decode is stored as a PNG (lossless); the PNG decoder is checked above.
  const Image expected = decode_fixture("photo_jpg.decoded.png");
  const Image actual = decode_fixture("photo.jpg");
  EXPECT_EQ(actual.width, 500);
  EXPECT_EQ(actual.height, 375);
  EXPECT_TRUE(images_near(actual, expected, 0));
}

TEST(Decode, Gray16KeepsHighByteUnlikePilsClipping) {
  EXPECT_TRUE(images_near(decode_fixture("gray16.png"), npy_image("images/gray16.expected.npy"), 0));
}

TEST(Decode, ExifOrientationAppliedLikeExifTranspose) {
  const std::vector<uint8_t> bytes = read_bytes(fixture("images/exif6.jpg"));
  EXPECT_EQ(exif_orientation(bytes), 6);
  const Image raw = decode_fixture("exif6.jpg", /*apply_exif=*/false);
  const Image turned = decode_fixture("exif6.jpg", /*apply_exif=*/true);
  EXPECT_EQ(raw.width, 40);
  EXPECT_EQ(turned.width, 30);
  EXPECT_EQ(turned.height, 40);
  EXPECT_TRUE(images_near(turned, npy_image("images/exif6_jpg.transposed.npy"), 0));
  EXPECT_EQ(exif_orientation(read_bytes(fixture("images/photo.jpg"))), 1);
}

TEST(Decode, EveryOrientationIsInvertible) {
  Image im(5, 3);
  for (size_t i = 0; i < im.rgb.size(); ++i) im.rgb[i] = static_cast<uint8_t>(i);
  // Orientation o followed by its inverse gives the input back (6 and 8 are each other's).
  const int inverse[9] = {0, 1, 2, 3, 4, 5, 8, 7, 6};
  for (int o = 1; o <= 8; ++o) {
    const Image once = apply_orientation(im, o);
    EXPECT_EQ(once.width, o >= 5 ? 3 : 5) << o;
    EXPECT_TRUE(images_near(apply_orientation(once, inverse[o]), im, 0)) << "orientation " << o;
  }
  // 6 = rotate 90 clockwise: the bottom-left input pixel becomes the top-left.
  EXPECT_EQ(apply_orientation(im, 6).pixel(0, 0)[0], im.pixel(0, 2)[0]);
}

TEST(Decode, ReducedScaleJpegKeepsBothSidesAboveHint) {
  const std::vector<uint8_t> bytes = read_bytes(fixture("images/photo.jpg"));
  const Image half = decode_image(bytes, "photo.jpg", /*min_side_hint=*/150);  // 1/2: 250x188
  EXPECT_EQ(half.width, 250);
  EXPECT_EQ(half.height, 188);
  const Image eighth = decode_image(bytes, "photo.jpg", /*min_side_hint=*/40);  // 1/8: 63x47
  EXPECT_EQ(eighth.width, 63);
  EXPECT_EQ(eighth.height, 47);
  // Scales other than powers of two: the smallest M/8 that keeps both sides >= the hint.
  const Image five_eighths = decode_image(bytes, "photo.jpg", /*min_side_hint=*/224);  // 5/8: 313x235
  EXPECT_EQ(five_eighths.width, 313);
  EXPECT_EQ(five_eighths.height, 235);
  const Image seven_eighths = decode_image(bytes, "photo.jpg", /*min_side_hint=*/300);  // 7/8: 438x329
  EXPECT_EQ(seven_eighths.width, 438);
  EXPECT_EQ(seven_eighths.height, 329);
  const Image full = decode_image(bytes, "photo.jpg", /*min_side_hint=*/330);  // 7/8 leaves 329 < 330
  EXPECT_EQ(full.width, 500);
  // PNGs ignore the hint.
  EXPECT_EQ(decode_image(read_bytes(fixture("images/gray.png")), "gray.png", 4).width, 37);
}

TEST(Decode, ProbeReadsSizeWithoutDecoding) {
  const ImageInfo jpeg = probe_image(read_bytes(fixture("images/photo.jpg")), "photo.jpg");
  EXPECT_EQ(jpeg.format, "jpeg");
  EXPECT_EQ(jpeg.width, 500);
  EXPECT_EQ(jpeg.height, 375);
  const ImageInfo png = probe_image(read_bytes(fixture("images/alpha.png")), "alpha.png");
  EXPECT_EQ(png.format, "png");
  EXPECT_EQ(png.width, 37);
  const ImageInfo webp = probe_image(read_bytes(fixture("images/lossy.webp")), "lossy.webp");
  EXPECT_EQ(webp.format, "webp");
  EXPECT_EQ(webp.height, 48);
}

TEST(Encode, PngRoundTripsExactly) {
  const Image im = decode_fixture("alpha.png");
  const std::vector<uint8_t> png = encode_png(im);
  EXPECT_TRUE(images_near(decode_image(png, "mem.png"), im, 0));
  test::TempDir dir;
  write_png(dir.path() + "/a.png", im);
  EXPECT_TRUE(images_near(decode_image_file(dir.path() + "/a.png"), im, 0));
}

TEST(Encode, JpegRoundTripsClosely) {
  const Image im = decode_fixture("photo_jpg.decoded.png");
  const Image back = decode_image(encode_jpeg(im, 95), "mem.jpg");
  ASSERT_EQ(back.width, im.width);
  double err = 0;
  for (size_t i = 0; i < im.rgb.size(); ++i) err += std::abs(int{im.rgb[i]} - int{back.rgb[i]});
  EXPECT_LT(err / static_cast<double>(im.rgb.size()), 4.0);  // mean |d| of a quality-95 JPEG
  EXPECT_THROW(encode_jpeg(im, 0), Error);
  EXPECT_THROW(encode_png(Image{}), Error);
}

}  // namespace
}  // namespace vlm::data
