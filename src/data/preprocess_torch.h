// The tensor side of preprocessing: a batch of images -> pixel_values (N, 3, H, W) float32,
// the input of the ViT. Kept apart so that image code builds without torch headers.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "data/image.h"
#include "data/preprocess.h"

namespace vlm::data {

// Every image must map to the same output size (always true with a fixed height/width or a
// center crop); throws Error otherwise.
at::Tensor to_pixel_values(const std::vector<Image>& images, const PreprocessConfig& config = {});
// Reads and decodes files, then as above; the first unreadable file throws its ImageError.
at::Tensor pixel_values_from_files(const std::vector<std::string>& paths, const PreprocessConfig& config = {},
                                   const DecodeOptions& options = {});

}  // namespace vlm::data
