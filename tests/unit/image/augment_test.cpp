// Augmentation: deterministic for (seed, epoch, index), crops inside the image with the
// requested area and aspect ranges, flips mirror pixels and keep captions true, jitter
// formulas on known pixels.
#include "data/augment.h"

#include <gtest/gtest.h>

#include "data/synthetic.h"
#include "image_test_util.h"

namespace vlm::data {
namespace {

Image scene(int size = 64) {
  SyntheticConfig c;
  c.image_size = size;
  return generate_sample(c, SyntheticSplit::kTrain, 2).image;
}

AugmentConfig everything() {
  AugmentConfig c;
  c.random_resized_crop = true;
  c.horizontal_flip = true;
  c.brightness = c.contrast = c.saturation = 0.3f;
  c.seed = 5;
  return c;
}

TEST(Augment, DisabledByDefaultAndIdentity) {
  const AugmentConfig c;
  EXPECT_FALSE(c.enabled());
  const Image im = scene();
  const AugmentResult r = augment(im, c, 0, 0);
  EXPECT_EQ(r.image.rgb, im.rgb);
  EXPECT_FALSE(r.flipped);
}

TEST(Augment, DeterministicForSeedEpochIndex) {
  const Image im = scene();
  const AugmentConfig c = everything();
  EXPECT_EQ(augment(im, c, 3, 7).image.rgb, augment(im, c, 3, 7).image.rgb);
  int differing = 0;
  for (uint64_t i = 0; i < 8; ++i) differing += augment(im, c, 3, i).image.rgb != augment(im, c, 4, i).image.rgb;
  EXPECT_GE(differing, 7);  // another epoch: other crops
  AugmentConfig other = c;
  other.seed = 6;
  EXPECT_NE(augment(im, c, 0, 0).image.rgb, augment(im, other, 0, 0).image.rgb);
}

TEST(Augment, CropsRespectScaleAndRatioRanges) {
  const Image im = scene(200);
  AugmentConfig c;
  c.random_resized_crop = true;
  c.crop_scale_min = 0.3f;
  c.crop_scale_max = 0.6f;
  for (uint64_t i = 0; i < 200; ++i) {
    const Image out = augment(im, c, 0, i).image;
    const double area = static_cast<double>(out.width) * out.height / (200.0 * 200.0);
    const double ratio = static_cast<double>(out.width) / out.height;
    EXPECT_GE(area, 0.3 - 0.02);
    EXPECT_LE(area, 0.6 + 0.02);
    EXPECT_GE(ratio, 0.75 - 0.02);
    EXPECT_LE(ratio, 4.0 / 3.0 + 0.02);
  }
  // A 10:1 strip can never fit the ratio range: torchvision's central fallback.
  Image strip(100, 10);
  const Image out = augment(strip, c, 0, 0).image;
  EXPECT_EQ(out.height, 10);
  EXPECT_EQ(out.width, 13);  // round(10 * 4/3)
}

TEST(Augment, FlipMirrorsAndSwapsCaption) {
  Image im(3, 1);
  im.rgb = {1, 1, 1, 2, 2, 2, 3, 3, 3};
  EXPECT_EQ(flip_horizontal(im).rgb, (std::vector<uint8_t>{3, 3, 3, 2, 2, 2, 1, 1, 1}));
  AugmentConfig c;
  c.horizontal_flip = true;
  c.flip_probability = 1.0f;
  c.flip_captions = AugmentConfig::FlipCaptions::kSwapLeftRight;
  const AugmentResult r = augment(im, "a red circle to the left of a blue square", c, 0, 0);
  EXPECT_TRUE(r.flipped);
  EXPECT_EQ(r.caption, "a red circle to the right of a blue square");
  c.flip_captions = AugmentConfig::FlipCaptions::kSkipIfSpatial;
  const AugmentResult kept = augment(im, "a red circle to the left of a blue square", c, 0, 0);
  EXPECT_FALSE(kept.flipped);
  EXPECT_EQ(kept.image.rgb, im.rgb);
  EXPECT_TRUE(augment(im, "a red circle above a blue square", c, 0, 0).flipped);
}

TEST(Augment, FlipProbabilityIsRespected) {
  AugmentConfig c;
  c.horizontal_flip = true;
  int flips = 0;
  for (uint64_t i = 0; i < 1000; ++i) flips += augment(scene(16), c, 0, i).flipped;
  EXPECT_GT(flips, 430);
  EXPECT_LT(flips, 570);
}

TEST(Augment, SwapLeftRightWords) {
  EXPECT_EQ(swap_left_right("Left of the RIGHT box, the leftmost cup; rightwards."),
            "Right of the LEFT box, the rightmost cup; leftwards.");
  EXPECT_EQ(swap_left_right("bright lefty"), "bright lefty");  // not whole words
  EXPECT_TRUE(mentions_left_right("on the Left"));
  EXPECT_FALSE(mentions_left_right("a bright light"));
}

TEST(Augment, ColourJitterFormulas) {
  Image im(2, 1);
  im.rgb = {100, 50, 200, 10, 20, 30};
  Image b = im;
  adjust_brightness(b, 1.5f);
  EXPECT_EQ(b.rgb, (std::vector<uint8_t>{150, 75, 255, 15, 30, 45}));
  Image s = im;
  adjust_saturation(s, 0.0f);  // grayscale: 0.2989*100 + 0.587*50 + 0.114*200 = 82.0 -> 82
  EXPECT_EQ(s.rgb[0], 82);
  EXPECT_EQ(s.rgb[1], 82);
  EXPECT_EQ(s.rgb[2], 82);
  Image c = im;
  adjust_contrast(c, 0.0f);  // every value becomes the mean gray (82 + 18) / 2 = 50
  for (uint8_t v : c.rgb) EXPECT_EQ(v, 50);
}

TEST(Augment, RejectsBadConfig) {
  AugmentConfig c;
  c.crop_scale_min = 0.8f;
  c.crop_scale_max = 0.5f;
  EXPECT_THROW(c.validate(), ConfigError);
  c = AugmentConfig{};
  c.brightness = -1;
  EXPECT_THROW(c.validate(), ConfigError);
  EXPECT_THROW(crop_image(scene(16), 10, 10, 10, 10), Error);
}

}  // namespace
}  // namespace vlm::data
