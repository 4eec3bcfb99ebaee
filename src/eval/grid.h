// The similarity grid picture: images as columns (thumbnails along the top), their captions as
// rows (numbered; the caption texts go into the HTML report), each cell the cosine similarity
// coloured by viridis with its value printed, correct pairs outlined, a colour bar at the right.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "data/image.h"

namespace vlm::eval {

struct GridOptions {
  int cell = 56;  // cell side in pixels; thumbnails are drawn at the same size
  bool show_values = true;
};

// similarity: row-major (num_images, num_texts) as in retrieval.h, similarity[i * num_texts + t];
// text_to_image[t]: the image of caption t (its cell gets the border). images.size() must
// equal num_images; any image size is accepted (thumbnails are resized). Throws vlm::Error.
data::Image render_similarity_grid(const std::vector<data::Image>& images, std::span<const float> similarity,
                                   int64_t num_texts, std::span<const int64_t> text_to_image,
                                   const GridOptions& options = {});

// Renders and writes a PNG (atomically).
void write_similarity_grid(const std::string& path, const std::vector<data::Image>& images,
                           std::span<const float> similarity, int64_t num_texts,
                           std::span<const int64_t> text_to_image, const GridOptions& options = {});

}  // namespace vlm::eval
