// preprocessor_config.json -> PreprocessConfig, and the ViTImageProcessor / CLIPImageProcessor
// pipeline on one image: resize (PIL-exact, image_resize.cpp), center crop, rescale, normalize
// into (3, H, W) floats with transformers' float32 arithmetic. Follows transformers'
// image_processing_vit.py / image_transforms.py; written here because the HF processors exist
// only in Python.
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <tuple>

#include "data/image_internal.h"
#include "data/preprocess.h"
#include "io/atomic_file.h"

namespace vlm::data {
namespace {

using nlohmann::json;

// Python's floor division, for transformers' center-crop offsets.
int floor_div2(int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

// {"height": h, "width": w} or a plain int (square) -> (height, width).
std::pair<int, int> read_hw(const json& value, const std::string& key) {
  if (value.is_number_integer()) return {value.get<int>(), value.get<int>()};
  if (value.is_object() && value.contains("height") && value.contains("width")) {
    return {value.at("height").get<int>(), value.at("width").get<int>()};
  }
  throw ConfigError(key, str("expected an integer or {\"height\", \"width\"}, got ", value.dump()));
}

std::array<float, 3> read_triple(const json& value, const std::string& key) {
  if (value.is_number()) {
    const float v = value.get<float>();
    return {v, v, v};
  }
  if (!value.is_array() || value.size() != 3) throw ConfigError(key, "expected a list of 3 numbers");
  return {value[0].get<float>(), value[1].get<float>(), value[2].get<float>()};
}

}  // namespace

void PreprocessConfig::validate() const {
  if (do_resize && shortest_edge <= 0 && (height <= 0 || width <= 0)) {
    throw ConfigError("size", str("height and width must be positive, got ", height, "x", width));
  }
  if (do_center_crop && (crop_height <= 0 || crop_width <= 0)) {
    throw ConfigError("crop_size", str("must be positive, got ", crop_height, "x", crop_width));
  }
  const int r = static_cast<int>(resample);
  if (r < 0 || r > 5) throw ConfigError("resample", str("must be a PIL filter 0..5, got ", r));
  for (int c = 0; c < 3; ++c) {
    if (do_normalize && image_std[static_cast<size_t>(c)] == 0.0f) {
      throw ConfigError("image_std", "a standard deviation of 0 would divide by zero");
    }
  }
  if (do_rescale && !(rescale_factor > 0.0)) throw ConfigError("rescale_factor", "must be positive, e.g. 1/255");
}

std::pair<int, int> PreprocessConfig::output_size(int in_w, int in_h) const {
  if (do_center_crop) return {crop_width, crop_height};
  if (!do_resize) return {in_w, in_h};
  if (shortest_edge <= 0) return {width, height};
  // transformers' get_resize_output_image_size(default_to_square=False).
  const int short_side = std::min(in_w, in_h), long_side = std::max(in_w, in_h);
  const int new_long = static_cast<int>(static_cast<double>(shortest_edge) * long_side / short_side);
  return in_w <= in_h ? std::pair{shortest_edge, new_long} : std::pair{new_long, shortest_edge};
}

int PreprocessConfig::decode_hint() const {
  if (!fast_decode || !do_resize) return 0;
  if (shortest_edge > 0) return shortest_edge;
  return std::max(height, width);
}

PreprocessConfig parse_preprocess_config(const std::string& json_text, const std::string& origin) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw FileError(origin, str("not valid JSON: ", e.what()));
  }
  if (!j.is_object()) throw FileError(origin, "expected a JSON object");
  PreprocessConfig c;
  try {
    if (j.contains("do_resize")) c.do_resize = j.at("do_resize").get<bool>();
    if (j.contains("size")) {
      const json& size = j.at("size");
      if (size.is_object() && size.contains("shortest_edge")) {
        c.shortest_edge = size.at("shortest_edge").get<int>();
      } else if (size.is_number_integer() && j.contains("crop_size")) {
        c.shortest_edge = size.get<int>();  // old CLIP-style files: an int size is the short side
      } else {
        std::tie(c.height, c.width) = read_hw(size, "size");
      }
    }
    if (j.contains("resample")) c.resample = static_cast<Resample>(j.at("resample").get<int>());
    if (j.contains("do_center_crop")) c.do_center_crop = j.at("do_center_crop").get<bool>();
    if (j.contains("crop_size")) std::tie(c.crop_height, c.crop_width) = read_hw(j.at("crop_size"), "crop_size");
    if (j.contains("do_rescale")) c.do_rescale = j.at("do_rescale").get<bool>();
    if (j.contains("rescale_factor")) c.rescale_factor = j.at("rescale_factor").get<double>();
    if (j.contains("do_normalize")) c.do_normalize = j.at("do_normalize").get<bool>();
    if (j.contains("image_mean")) c.image_mean = read_triple(j.at("image_mean"), "image_mean");
    if (j.contains("image_std")) c.image_std = read_triple(j.at("image_std"), "image_std");
  } catch (const json::exception& e) {
    throw FileError(origin, str("unexpected value type: ", e.what()));
  } catch (const ConfigError& e) {
    throw FileError(origin, e.what());
  }
  try {
    c.validate();
  } catch (const ConfigError& e) {
    throw FileError(origin, e.what());
  }
  return c;
}

PreprocessConfig load_preprocess_config(const std::string& path) {
  return parse_preprocess_config(io::read_file(path), path);
}

PreprocessConfig load_preprocess_config_from_dir(const std::string& dir) {
  const std::string path = dir + "/preprocessor_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return PreprocessConfig{};
  return load_preprocess_config(path);
}

Image preprocess_resize(const Image& image, const PreprocessConfig& config) {
  if (image.empty()) throw Error("preprocess: empty image");
  Image resized;
  if (config.do_resize) {
    int w = config.width, h = config.height;
    if (config.shortest_edge > 0) {
      PreprocessConfig no_crop = config;
      no_crop.do_center_crop = false;
      std::tie(w, h) = no_crop.output_size(image.width, image.height);
    }
    resized = resize_image(image, w, h, config.resample);
  } else {
    resized = image;
  }
  if (!config.do_center_crop) return resized;
  // transformers' center_crop: offsets floor((in - crop) / 2); outside the image is zero padding.
  Image out(config.crop_width, config.crop_height);
  const int left = floor_div2(resized.width - config.crop_width);
  const int top = floor_div2(resized.height - config.crop_height);
  for (int y = 0; y < out.height; ++y) {
    const int sy = y + top;
    if (sy < 0 || sy >= resized.height) continue;
    for (int x = 0; x < out.width; ++x) {
      const int sx = x + left;
      if (sx >= 0 && sx < resized.width) std::memcpy(out.pixel(x, y), resized.pixel(sx, sy), 3);
    }
  }
  return out;
}

void preprocess_into(const Image& image, const PreprocessConfig& config, float* out) {
  const Image resized = preprocess_resize(image, config);
  // Each output value depends only on (channel, byte): a 3 x 256 table computed with
  // transformers' arithmetic: float32(float64(v) * factor), then (x - mean) / std in float32.
  float table[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      float x = config.do_rescale ? static_cast<float>(static_cast<double>(v) * config.rescale_factor)
                                  : static_cast<float>(v);
      if (config.do_normalize) {
        x = (x - config.image_mean[static_cast<size_t>(c)]) / config.image_std[static_cast<size_t>(c)];
      }
      table[c][v] = x;
    }
  }
  const size_t plane = static_cast<size_t>(resized.width) * resized.height;
  const uint8_t* src = resized.rgb.data();
  float* r = out;
  float* g = out + plane;
  float* b = out + 2 * plane;
  for (size_t i = 0; i < plane; ++i, src += 3) {
    r[i] = table[0][src[0]];
    g[i] = table[1][src[1]];
    b[i] = table[2][src[2]];
  }
}

void preprocess_bytes_into(std::span<const uint8_t> bytes, const std::string& name, const PreprocessConfig& config,
                           float* out, const DecodeOptions& options) {
  DecodeOptions decode = options;
  if (decode.min_side_hint == 0) decode.min_side_hint = config.decode_hint();
  decode.fast_jpeg |= config.fast_decode;
  preprocess_into(decode_image(bytes, name, decode), config, out);
}

}  // namespace vlm::data
