// Resize bit-exact against PIL's Image.resize (uint8, tolerance 0) for every filter, down and
// up, odd sizes and one-axis resizes; normalized floats against transformers' arithmetic
// (max |d| <= 1e-6; in practice 0).
#include <gtest/gtest.h>

#include <cmath>

#include "data/preprocess.h"
#include "image_test_util.h"

namespace vlm::data {
namespace {

using test::fixture;
using test::images_near;
using test::npy_image;

Image source(const std::string& stem) {
  DecodeOptions options;
  options.apply_exif = false;
  return stem == "photo" ? decode_image_file(fixture("images/photo_jpg.decoded.png"), options)
                         : npy_image("images/alpha_png.decoded.npy");
}

struct ResizeCase {
  std::string stem;
  int width, height, resample;
};

class ResizeMatchesPil : public ::testing::TestWithParam<ResizeCase> {};

TEST_P(ResizeMatchesPil, BitExact) {
  const ResizeCase& c = GetParam();
  const Image out = resize_image(source(c.stem), c.width, c.height, static_cast<Resample>(c.resample));
  const std::string name = "images/resize_" + c.stem + "_" + std::to_string(c.width) + "x" +
                           std::to_string(c.height) + "_r" + std::to_string(c.resample) + ".npy";
  EXPECT_TRUE(images_near(out, npy_image(name), 0)) << name;
}

INSTANTIATE_TEST_SUITE_P(
    Filters, ResizeMatchesPil,
    ::testing::Values(ResizeCase{"photo", 224, 224, 2}, ResizeCase{"photo", 224, 224, 3},
                      ResizeCase{"photo", 61, 47, 2}, ResizeCase{"photo", 61, 47, 3},
                      ResizeCase{"photo", 500, 20, 2}, ResizeCase{"photo", 97, 375, 3},
                      ResizeCase{"photo", 50, 37, 1}, ResizeCase{"photo", 50, 37, 4},
                      ResizeCase{"photo", 50, 37, 5}, ResizeCase{"photo", 50, 37, 0},
                      ResizeCase{"alpha", 80, 61, 2}, ResizeCase{"alpha", 80, 61, 3},
                      ResizeCase{"alpha", 120, 90, 2}, ResizeCase{"alpha", 91, 13, 0}),
    [](const auto& info) {
      const ResizeCase& c = info.param;
      return c.stem + "_" + std::to_string(c.width) + "x" + std::to_string(c.height) + "_r" +
             std::to_string(c.resample);
    });

TEST(Resize, SameSizeIsACopyAndBadSizesThrow) {
  const Image im = source("alpha");
  EXPECT_TRUE(images_near(resize_image(im, im.width, im.height), im, 0));
  EXPECT_THROW(resize_image(im, 0, 10), Error);
  EXPECT_THROW(resize_image(Image{}, 10, 10), Error);
}

TEST(Resize, ConstantImageStaysConstant) {
  Image im(53, 41);
  std::fill(im.rgb.begin(), im.rgb.end(), uint8_t{173});
  for (int r : {1, 2, 3, 4, 5}) {
    const Image out = resize_image(im, 17, 90, static_cast<Resample>(r));
    for (uint8_t v : out.rgb) ASSERT_EQ(v, 173) << "filter " << r;
  }
}

void expect_floats_near(const std::vector<float>& actual, const std::vector<float>& expected, double tol) {
  ASSERT_EQ(actual.size(), expected.size());
  double max_diff = 0;
  size_t worst = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double d = std::fabs(double{actual[i]} - double{expected[i]});
    if (d > max_diff) max_diff = d, worst = i;
  }
  EXPECT_LE(max_diff, tol) << "at " << worst << ": " << actual[worst] << " vs " << expected[worst];
}

TEST(Preprocess, VitDefaultsMatchTransformersArithmetic) {
  PreprocessConfig config;  // ViTImageProcessor defaults, at 64x64 to keep the fixture small
  config.height = config.width = 64;
  std::vector<int64_t> shape;
  const std::vector<float> expected = test::npy_floats("images/normalized_vit64.npy", &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{3, 64, 64}));
  std::vector<float> out(3 * 64 * 64);
  preprocess_into(source("photo"), config, out.data());
  expect_floats_near(out, expected, 1e-6);
}

TEST(Preprocess, ClipStyleShortestEdgeAndCenterCrop) {
  const PreprocessConfig config = parse_preprocess_config(R"({
    "do_resize": true, "size": {"shortest_edge": 64}, "resample": 3,
    "do_center_crop": true, "crop_size": {"height": 56, "width": 56},
    "do_rescale": true, "rescale_factor": 0.00392156862745098, "do_normalize": true,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "CLIPImageProcessor"})",
                                                          "clip.json");
  EXPECT_EQ(config.output_size(500, 375), (std::pair<int, int>{56, 56}));
  std::vector<float> out(3 * 56 * 56);
  preprocess_into(source("photo"), config, out.data());
  expect_floats_near(out, test::npy_floats("images/normalized_clip56.npy"), 1e-6);
}

TEST(Preprocess, ConfigParsingAndErrors) {
  const PreprocessConfig vit = parse_preprocess_config(
      R"({"do_normalize": true, "do_resize": true, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
          "resample": 2, "rescale_factor": 0.00392156862745098, "size": {"height": 224, "width": 224}})",
      "vit.json");
  EXPECT_EQ(vit.height, 224);
  EXPECT_EQ(vit.resample, Resample::kBilinear);
  EXPECT_EQ(parse_preprocess_config(R"({"size": 384})", "old.json").width, 384);  // old int form: square
  EXPECT_EQ(parse_preprocess_config(R"({"size": 256, "crop_size": 224, "do_center_crop": true})", "c.json")
                .shortest_edge,
            256);
  EXPECT_THROW(parse_preprocess_config("{not json", "x.json"), FileError);
  EXPECT_THROW(parse_preprocess_config(R"({"image_std": [0.5, 0, 0.5]})", "x.json"), FileError);
  EXPECT_THROW(parse_preprocess_config(R"({"size": {"height": -1, "width": 3}})", "x.json"), FileError);
  EXPECT_THROW(parse_preprocess_config(R"({"image_mean": [0.5]})", "x.json"), FileError);
  EXPECT_THROW(parse_preprocess_config(R"({"resample": 9})", "x.json"), FileError);
  test::TempDir dir;
  EXPECT_EQ(load_preprocess_config_from_dir(dir.path()).height, 224);  // no file: defaults
}

TEST(Preprocess, ShortestEdgeKeepsAspectLikeTransformers) {
  PreprocessConfig c;
  c.shortest_edge = 224;
  EXPECT_EQ(c.output_size(500, 375), (std::pair<int, int>{298, 224}));  // int(224 * 500 / 375)
  EXPECT_EQ(c.output_size(375, 500), (std::pair<int, int>{224, 298}));
  c.fast_decode = true;
  EXPECT_EQ(c.decode_hint(), 224);
}

TEST(Preprocess, FastDecodeIsCloseToExact) {
  const std::vector<uint8_t> bytes = test::read_bytes(fixture("images/photo.jpg"));
  PreprocessConfig exact;
  exact.height = exact.width = 64;
  PreprocessConfig fast = exact;
  fast.fast_decode = true;  // decodes at 1/4 (125x94) before resizing
  std::vector<float> a(3 * 64 * 64), b(3 * 64 * 64);
  preprocess_bytes_into(bytes, "photo.jpg", exact, a.data());
  preprocess_bytes_into(bytes, "photo.jpg", fast, b.data());
  double mean_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) mean_abs += std::fabs(a[i] - b[i]);
  mean_abs /= static_cast<double>(a.size());
  EXPECT_GT(mean_abs, 0.0);    // really a different path
  EXPECT_LT(mean_abs, 0.05);   // ~3 levels of 255 on the [-1, 1] scale
}

}  // namespace
}  // namespace vlm::data
