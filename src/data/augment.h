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
  // Off by default: captions say "left of"/"right of", and a mirrored image makes them false.
  // When on, the caption overload of augment() keeps captions true by `flip_captions`:
  //   kSwapLeftRight: mirror and swap the words left/right in the caption (swap_left_right);
  //   kSkipIfSpatial: never mirror an image whose caption mentions left or right.
  // The swap is word-based, so "she left the room" would become "she right the room": use
  // kSkipIfSpatial for free-form captions (web data), kSwapLeftRight for the synthetic shapes.
  enum class FlipCaptions { kSwapLeftRight, kSkipIfSpatial };
  bool horizontal_flip = false;
  float flip_probability = 0.5f;
  FlipCaptions flip_captions = FlipCaptions::kSkipIfSpatial;
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
  std::string caption;  // the caption as it must read for `image` (only the caption overload)
  bool flipped = false;
};

// The crop is returned at its own size (the preprocessor resizes it afterwards, so pixels are
// resampled once). The same (config, epoch, index) gives the same result. Without a caption,
// the caller must apply swap_left_right() itself when `flipped`.
AugmentResult augment(const Image& image, const AugmentConfig& config, uint64_t epoch, uint64_t index);
// With the caption: applies config.flip_captions and returns the caption to train on.
AugmentResult augment(const Image& image, const std::string& caption, const AugmentConfig& config, uint64_t epoch,
                      uint64_t index);

// True when the caption contains the word left or right (any case, also leftmost/rightmost...).
bool mentions_left_right(const std::string& caption);

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
