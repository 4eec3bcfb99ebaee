// Image-text retrieval metrics as the COCO / Flickr30k protocols report them: Recall@1/5/10
// image-to-text and text-to-image, median and mean rank, from a plain similarity matrix
// (torch-free; eval/retrieval_blocks.h ranks embeddings block by block without the whole matrix).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vlm::eval {

struct RetrievalMetrics {
  // Fractions in [0, 1]. i2t: an image is found at K when ANY of its captions ranks in the top K.
  // t2i: a caption is found at K when its own image ranks in the top K.
  double i2t_r1 = 0, i2t_r5 = 0, i2t_r10 = 0;
  double t2i_r1 = 0, t2i_r5 = 0, t2i_r10 = 0;
  // 1-based rank of the best correct candidate; median as numpy's (mean of the middle two).
  double i2t_median_rank = 0, i2t_mean_rank = 0;
  double t2i_median_rank = 0, t2i_mean_rank = 0;
  int64_t num_images = 0, num_texts = 0;
};

// similarity: row-major (num_images, num_texts), similarity[i * num_texts + t].
// text_to_image[t]: the image index of caption t (several captions per image allowed; every
// image needs at least one). Ties are pessimistic: a wrong candidate scoring the same as the
// correct one ranks ahead of it.
// captions (optional, one per text): when given, a pair (image i, caption t) also counts as
// correct when t's text equals the text of one of i's own captions, in both directions
// (different synthetic scenes can share a caption). Throws vlm::Error on bad shapes or
// non-finite scores.
RetrievalMetrics compute_retrieval(std::span<const float> similarity, int64_t num_images, int64_t num_texts,
                                   std::span<const int64_t> text_to_image,
                                   std::span<const std::string> captions = {});

// Per-query 1-based ranks behind the metrics (i2t: one per image, t2i: one per caption).
struct RetrievalRanks {
  std::vector<int64_t> i2t, t2i;
};
RetrievalRanks retrieval_ranks(std::span<const float> similarity, int64_t num_images, int64_t num_texts,
                               std::span<const int64_t> text_to_image, std::span<const std::string> captions = {});

// Recall@K, median and mean ranks from per-query ranks.
RetrievalMetrics metrics_from_ranks(const RetrievalRanks& ranks);

}  // namespace vlm::eval
