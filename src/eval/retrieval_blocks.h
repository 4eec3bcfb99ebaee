// Retrieval ranks without the (Ni, Nt) similarity matrix: scores are computed a block of image
// rows at a time (against every text, in text chunks) and reduced to ranks at once, so memory is
// bounded by the block, not by Ni x Nt (50k images x 250k captions: 50 GB as a matrix). Exactly
// the ranks of eval/retrieval.h's retrieval_ranks on the full matrix: same correct pairs, same
// pessimistic ties. Two passes over the blocks: the first finds every caption's best correct
// score, the second counts the images ahead of it.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <span>
#include <string>

#include "eval/retrieval.h"

namespace vlm::eval {

// Scores of a block of images against a block of texts: (bi, ...) x (bt, ...) -> (bi, bt).
using BlockSimilarity = std::function<at::Tensor(const at::Tensor& images, const at::Tensor& texts)>;

struct BlockOptions {
  int64_t max_block_bytes = int64_t{256} << 20;  // bound on one block of scores and its intermediates
};

// image_embeds (Ni, ...) and text_embeds (Nt, ...) as `similarity` takes them (e.g. (Ni, Q, E) and
// (Nt, E)); text_to_image and captions as for retrieval_ranks. Throws vlm::Error on bad shapes or
// a non-finite score.
RetrievalRanks blockwise_retrieval_ranks(const at::Tensor& image_embeds, const at::Tensor& text_embeds,
                                         std::span<const int64_t> text_to_image, const BlockSimilarity& similarity,
                                         std::span<const std::string> captions = {}, BlockOptions options = {});

}  // namespace vlm::eval
