// Training-time image augmentation on plain RGB buffers: random resized crop (torchvision's
// RandomResizedCrop box sampling), horizontal flip and colour jitter (brightness, contrast,
// saturation as torchvision's adjust_* functions). Deterministic for (seed, epoch, index),
// so a resumed run sees the same images. Off by default.
#pragma once

#include <cstdint>
#include <string>

#include "data/image.h"

namespace vlm::data {

struct AugmentConfig {
  bool random_resized_crop = false;
  float crop_scale_min = 0.5f;   // fraction of the area kept, torchvision's scale=(0.08, 1) is
  float crop_scale_max = 1.0f;   // too aggressive for captions that name every object
  float crop_ratio_min = 3.0f / 4.0f;
  float crop_ratio_max = 4.0f / 3.0f;
  // Off by default: captions say "left of"/"right of". When on, the caller must pass the
  // caption through swap_left_right() whenever AugmentResult::flipped is true.
  bool horizontal_flip = false;
  float flip_probability = 0.5f;
  // Factors drawn uniformly from [max(0, 1 - x), 1 + x]; 0 disables, e.g. 0.2.
  float brightness = 0.0f;
  float contrast = 0.0f;
  float saturation = 0.0f;
  uint64_t seed = 0;

  bool enabled() const;
  void validate() const;  // throws ConfigError
};

struct AugmentResult {
  Image image;
  bool flipped = false;
};

// The crop is returned at its own size (the preprocessor resizes it afterwards, so pixels are
// resampled once). The same (config, epoch, index) gives the same result.
AugmentResult augment(const Image& image, const AugmentConfig& config, uint64_t epoch, uint64_t index);

// The caption of a mirrored image: swaps the words "left" and "right" (whole words, keeping
// capitalisation: "Left" <-> "Right", "leftmost" <-> "rightmost").
std::string swap_left_right(const std::string& caption);

// Building blocks (exposed for tests).
Image crop_image(const Image& image, int x, int y, int width, int height);
Image flip_horizontal(const Image& image);
void adjust_brightness(Image& image, float factor);
void adjust_contrast(Image& image, float factor);
void adjust_saturation(Image& image, float factor);

}  // namespace vlm::data
