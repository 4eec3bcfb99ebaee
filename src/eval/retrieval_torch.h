// The tensor side of retrieval: the image-text cosine-similarity matrix from embeddings,
// computed in batches so a large eval set never holds a (Ni, Nt) product on the device at once.
#pragma once

#include <ATen/core/Tensor.h>

#include <span>
#include <string>

#include "eval/retrieval.h"

namespace vlm::eval {

// image_embeds (Ni, E), text_embeds (Nt, E), on any device and float dtype. Rows are
// L2-normalised here (a no-op for normalised input), products taken in float32 in blocks of
// `batch` image rows; returns a contiguous float32 CPU tensor (Ni, Nt).
at::Tensor similarity_matrix(const at::Tensor& image_embeds, const at::Tensor& text_embeds, int64_t batch = 1024);

// compute_retrieval on a (Ni, Nt) tensor.
RetrievalMetrics compute_retrieval(const at::Tensor& similarity, std::span<const int64_t> text_to_image,
                                   std::span<const std::string> captions = {});

}  // namespace vlm::eval
