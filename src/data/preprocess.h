// Image preprocessing as Hugging Face's ViTImageProcessor / CLIPImageProcessor do it: resize
// with PIL's antialiased resampling (bit-identical uint8 output), optional center crop,
// rescale and normalize into a float (3, H, W) buffer. Configured from a model folder's
// preprocessor_config.json. No torch here: see data/preprocess_torch.h for tensors.
#pragma once

#include <array>
#include <string>

#include "data/image.h"

namespace vlm::data {

// PIL's resampling filters, numbered as PIL's Image.Resampling enum (the numbers that appear
// as "resample" in preprocessor_config.json).
enum class Resample { kNearest = 0, kLanczos = 1, kBilinear = 2, kBicubic = 3, kBox = 4, kHamming = 5 };

// Image.resize(size, resample) from Pillow's Resample.c: separable convolution, horizontal pass
// then vertical, support widened by the downscale factor (antialias), coefficients in 22-bit
// fixed point, uint8 clipping after each pass. Bit-identical to PIL for RGB uint8.
Image resize_image(const Image& image, int width, int height, Resample resample = Resample::kBilinear);

// Fields keep preprocessor_config.json's names; defaults are ViTImageProcessor's.
struct PreprocessConfig {
  bool do_resize = true;
  // Either a fixed size ({"height": 224, "width": 224}) or, when shortest_edge > 0, resize so
  // the short side becomes shortest_edge keeping the aspect ratio (CLIP style), e.g. 224.
  int height = 224;
  int width = 224;
  int shortest_edge = 0;
  Resample resample = Resample::kBilinear;  // 2; CLIP uses 3 (bicubic)
  bool do_center_crop = false;              // CLIP: true with crop_size 224x224
  int crop_height = 224;
  int crop_width = 224;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<float, 3> image_mean = {0.5f, 0.5f, 0.5f};
  std::array<float, 3> image_std = {0.5f, 0.5f, 0.5f};
  // Not HF: decode JPEGs at a reduced DCT scale when they are at least twice the target size
  // (DecodeOptions::min_side_hint) and with the fast IDCT (DecodeOptions::fast_jpeg). Faster,
  // no longer bit-identical to PIL.
  bool fast_decode = false;

  // Throws ConfigError naming the key for an impossible value (size <= 0, std == 0, ...).
  void validate() const;
  // The size of the (3, H, W) output for an input of in_w x in_h; fixed unless shortest_edge
  // is used without a center crop.
  std::pair<int, int> output_size(int in_w, int in_h) const;  // (width, height)
  // The min_side_hint that fast_decode asks the JPEG decoder for (0 when off).
  int decode_hint() const;
};

// Parses a preprocessor_config.json text / file (unknown keys are ignored: HF files carry
// many that concern other processors). Throws FileError / ConfigError.
PreprocessConfig parse_preprocess_config(const std::string& json_text, const std::string& origin);
PreprocessConfig load_preprocess_config(const std::string& path);
// `dir`/preprocessor_config.json, or the defaults when the folder has none.
PreprocessConfig load_preprocess_config_from_dir(const std::string& dir);

// The resized (and cropped) uint8 image, before rescale/normalize.
Image preprocess_resize(const Image& image, const PreprocessConfig& config);
// Writes 3 * H * W floats, channel-major, H and W from config.output_size(image.width,
// image.height): out[c][y][x] = ((pixel * rescale_factor) - mean[c]) / std[c], in float32 as
// transformers computes it.
void preprocess_into(const Image& image, const PreprocessConfig& config, float* out);
// Decodes and preprocesses one encoded image (uses config.fast_decode for JPEGs).
void preprocess_bytes_into(std::span<const uint8_t> bytes, const std::string& name, const PreprocessConfig& config,
                           float* out, const DecodeOptions& options = {});

}  // namespace vlm::data
