// Training-time augmentation following torchvision's semantics: RandomResizedCrop's box
// sampling (10 tries of area x log-uniform aspect, then a central fallback), RandomHorizontalFlip,
// ColorJitter's brightness/contrast/saturation in a random order with torchvision's blend
// formulas (grayscale 0.2989 R + 0.587 G + 0.114 B, uint8 truncation). torchvision is Python;
// here it runs on the loader's plain buffers. Randomness: SplitMix64 of (seed, epoch, index).
#include "data/augment.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <vector>

#include "data/synthetic_internal.h"

namespace vlm::data {
namespace {

uint8_t to_u8(float v) { return static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f)); }  // truncates, as torch

float gray(const uint8_t* p) { return 0.2989f * p[0] + 0.587f * p[1] + 0.114f * p[2]; }

struct Box {
  int x, y, w, h;
};

Box random_resized_crop_box(int width, int height, const AugmentConfig& c, SplitMix& rng) {
  const double area = static_cast<double>(width) * height;
  const double log_lo = std::log(c.crop_ratio_min), log_hi = std::log(c.crop_ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (c.crop_scale_min + rng.uniform01() * (c.crop_scale_max - c.crop_scale_min));
    const double aspect = std::exp(log_lo + rng.uniform01() * (log_hi - log_lo));
    const int w = static_cast<int>(std::lround(std::sqrt(target * aspect)));
    const int h = static_cast<int>(std::lround(std::sqrt(target / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int y = rng.below(height - h + 1), x = rng.below(width - w + 1);
      return {x, y, w, h};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < c.crop_ratio_min) {
    h = static_cast<int>(std::lround(w / c.crop_ratio_min));
  } else if (in_ratio > c.crop_ratio_max) {
    w = static_cast<int>(std::lround(h * c.crop_ratio_max));
  }
  return {(width - w) / 2, (height - h) / 2, w, h};
}

bool is_alpha(char ch) { return std::isalpha(static_cast<unsigned char>(ch)) != 0; }

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// "left..." <-> "right..." for the words we know; empty when the word is not one of them.
std::string swapped_word(const std::string& word) {
  static const std::array<const char*, 4> kSuffixes = {"", "most", "ward", "wards"};
  const std::string w = lower(word);
  for (const char* suffix : kSuffixes) {
    if (w == std::string("left") + suffix) return std::string("right") + suffix;
    if (w == std::string("right") + suffix) return std::string("left") + suffix;
  }
  return {};
}

// Calls fn(begin, end) for each maximal run of letters.
template <typename Fn>
void for_each_word(const std::string& s, Fn fn) {
  size_t i = 0;
  while (i < s.size()) {
    if (!is_alpha(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && is_alpha(s[j])) ++j;
    fn(i, j);
    i = j;
  }
}

}  // namespace

bool AugmentConfig::enabled() const {
  return random_resized_crop || horizontal_flip || brightness > 0 || contrast > 0 || saturation > 0;
}

void AugmentConfig::validate() const {
  if (!(crop_scale_min > 0 && crop_scale_min <= crop_scale_max && crop_scale_max <= 1)) {
    throw ConfigError("crop_scale", str("need 0 < min <= max <= 1, got ", crop_scale_min, "..", crop_scale_max));
  }
  if (!(crop_ratio_min > 0 && crop_ratio_min <= crop_ratio_max)) {
    throw ConfigError("crop_ratio", str("need 0 < min <= max, got ", crop_ratio_min, "..", crop_ratio_max));
  }
  if (!(flip_probability >= 0 && flip_probability <= 1)) throw ConfigError("flip_probability", "must be in [0, 1]");
  if (brightness < 0 || contrast < 0 || saturation < 0) {
    throw ConfigError("color_jitter", "brightness, contrast and saturation must be >= 0 (e.g. 0.2)");
  }
}

Image crop_image(const Image& image, int x, int y, int width, int height) {
  if (x < 0 || y < 0 || width <= 0 || height <= 0 || x + width > image.width || y + height > image.height) {
    throw Error(str("crop ", width, "x", height, "+", x, "+", y, " is outside the ", image.width, "x", image.height,
                    " image"));
  }
  Image out(width, height);
  for (int row = 0; row < height; ++row) {
    std::memcpy(out.pixel(0, row), image.pixel(x, y + row), static_cast<size_t>(width) * 3);
  }
  return out;
}

Image flip_horizontal(const Image& image) {
  Image out(image.width, image.height);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) std::memcpy(out.pixel(image.width - 1 - x, y), image.pixel(x, y), 3);
  }
  return out;
}

void adjust_brightness(Image& image, float factor) {
  for (uint8_t& v : image.rgb) v = to_u8(v * factor);
}

void adjust_contrast(Image& image, float factor) {
  // torchvision: the mean of the uint8-truncated grayscale image.
  double sum = 0;
  const size_t n = static_cast<size_t>(image.width) * image.height;
  for (size_t i = 0; i < n; ++i) sum += static_cast<uint8_t>(gray(&image.rgb[i * 3]));
  const float mean = n > 0 ? static_cast<float>(sum / static_cast<double>(n)) : 0.0f;
  for (uint8_t& v : image.rgb) v = to_u8(factor * v + (1 - factor) * mean);
}

void adjust_saturation(Image& image, float factor) {
  const size_t n = static_cast<size_t>(image.width) * image.height;
  for (size_t i = 0; i < n; ++i) {
    uint8_t* p = &image.rgb[i * 3];
    const float g = static_cast<uint8_t>(gray(p));
    for (int c = 0; c < 3; ++c) p[c] = to_u8(factor * p[c] + (1 - factor) * g);
  }
}

AugmentResult augment(const Image& image, const AugmentConfig& config, uint64_t epoch, uint64_t index) {
  AugmentConfig no_policy = config;
  no_policy.flip_captions = AugmentConfig::FlipCaptions::kSwapLeftRight;  // the caller handles captions
  return augment(image, std::string(), no_policy, epoch, index);
}

AugmentResult augment(const Image& image, const std::string& caption, const AugmentConfig& config, uint64_t epoch,
                      uint64_t index) {
  if (image.empty()) throw Error("augment: empty image");
  SplitMix rng(mix_seed(config.seed, epoch, index));
  AugmentResult result;
  result.caption = caption;
  if (config.random_resized_crop) {
    const Box box = random_resized_crop_box(image.width, image.height, config, rng);
    result.image = crop_image(image, box.x, box.y, box.w, box.h);
  } else {
    result.image = image;
  }
  if (config.horizontal_flip && rng.uniform01() < config.flip_probability) {
    const bool spatial = mentions_left_right(caption);
    if (config.flip_captions == AugmentConfig::FlipCaptions::kSwapLeftRight || !spatial) {
      result.image = flip_horizontal(result.image);
      result.flipped = true;
      if (spatial) result.caption = swap_left_right(caption);
    }
  }
  // ColorJitter: the factors first, then the operations in a random order (torchvision's
  // randperm over the four; hue is not offered).
  std::array<int, 3> order = {0, 1, 2};
  for (int i = 2; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(rng.below(i + 1))]);
  auto draw = [&](float x) {  // uniform in [max(0, 1 - x), 1 + x]
    if (x <= 0) return 1.0f;
    const float lo = std::max(0.0f, 1 - x);
    return lo + static_cast<float>(rng.uniform01()) * (1 + x - lo);
  };
  const float factors[3] = {draw(config.brightness), draw(config.contrast), draw(config.saturation)};
  for (int op : order) {
    if (factors[op] == 1.0f) continue;
    if (op == 0) adjust_brightness(result.image, factors[op]);
    if (op == 1) adjust_contrast(result.image, factors[op]);
    if (op == 2) adjust_saturation(result.image, factors[op]);
  }
  return result;
}

bool mentions_left_right(const std::string& caption) {
  bool found = false;
  for_each_word(caption, [&](size_t b, size_t e) { found |= !swapped_word(caption.substr(b, e - b)).empty(); });
  return found;
}

std::string swap_left_right(const std::string& caption) {
  std::string out = caption;
  // Words are replaced from the end so earlier offsets stay valid.
  std::vector<std::pair<size_t, size_t>> words;
  for_each_word(caption, [&](size_t b, size_t e) { words.emplace_back(b, e); });
  for (auto it = words.rbegin(); it != words.rend(); ++it) {
    const std::string word = caption.substr(it->first, it->second - it->first);
    std::string swapped = swapped_word(word);
    if (swapped.empty()) continue;
    const bool all_caps =
        std::all_of(word.begin(), word.end(), [](char ch) { return std::isupper(static_cast<unsigned char>(ch)) != 0; });
    if (all_caps) {
      for (char& ch : swapped) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    } else if (std::isupper(static_cast<unsigned char>(word[0])) != 0) {
      swapped[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(swapped[0])));
    }
    out.replace(it->first, it->second - it->first, swapped);
  }
  return out;
}

}  // namespace vlm::data
