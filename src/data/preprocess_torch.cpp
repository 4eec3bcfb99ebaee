// Batches of images -> pixel_values (N, 3, H, W) float32: the only preprocessing code that
// touches torch, so the image files stay torch-free (LIBTORCH.md: parsing torch costs ~12 s).
#include "data/preprocess_torch.h"

#include <torch/torch.h>

namespace vlm::data {

at::Tensor to_pixel_values(const std::vector<Image>& images, const PreprocessConfig& config) {
  if (images.empty()) throw Error("to_pixel_values: no images");
  const auto [w, h] = config.output_size(images.front().width, images.front().height);
  for (size_t i = 1; i < images.size(); ++i) {
    if (config.output_size(images[i].width, images[i].height) != std::pair{w, h}) {
      throw Error(str("to_pixel_values: image ", i, " maps to a different size than image 0 (", w, "x", h,
                      "); use a fixed size or a center crop to batch images of different shapes"));
    }
  }
  at::Tensor out = torch::empty({static_cast<int64_t>(images.size()), 3, h, w}, torch::kFloat32);  // (N, 3, H, W)
  float* data = out.data_ptr<float>();
  const size_t per_image = static_cast<size_t>(3) * h * w;
  for (size_t i = 0; i < images.size(); ++i) preprocess_into(images[i], config, data + i * per_image);
  return out;
}

at::Tensor pixel_values_from_files(const std::vector<std::string>& paths, const PreprocessConfig& config,
                                   const DecodeOptions& options) {
  std::vector<Image> images;
  images.reserve(paths.size());
  DecodeOptions decode = options;
  if (decode.min_side_hint == 0) decode.min_side_hint = config.decode_hint();
  decode.fast_jpeg |= config.fast_decode;
  for (const std::string& path : paths) images.push_back(decode_image_file(path, decode));
  return to_pixel_values(images, config);
}

}  // namespace vlm::data
