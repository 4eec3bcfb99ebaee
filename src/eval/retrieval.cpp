// Recall@K and ranks for image-text retrieval (the COCO / Flickr30k evaluation as in the
// BLIP and CLIP evaluation scripts), with pessimistic ties and optional identical-caption
// hits. A few loops over a matrix: no library is needed or worth a dependency.
#include "eval/retrieval.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"

namespace vlm::eval {
namespace {

double median(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? static_cast<double>(v[n / 2]) : 0.5 * static_cast<double>(v[n / 2 - 1] + v[n / 2]);
}

double mean(const std::vector<int64_t>& v) {
  double s = 0;
  for (int64_t x : v) s += static_cast<double>(x);
  return s / static_cast<double>(v.size());
}

double recall_at(const std::vector<int64_t>& ranks, int64_t k) {
  const auto hits = std::count_if(ranks.begin(), ranks.end(), [k](int64_t r) { return r <= k; });
  return static_cast<double>(hits) / static_cast<double>(ranks.size());
}

}  // namespace

RetrievalRanks retrieval_ranks(std::span<const float> similarity, int64_t num_images, int64_t num_texts,
                               std::span<const int64_t> text_to_image, std::span<const std::string> captions) {
  if (num_images <= 0 || num_texts <= 0) throw Error("retrieval: need at least one image and one caption");
  if (static_cast<int64_t>(similarity.size()) != num_images * num_texts) {
    throw Error(str("retrieval: similarity has ", similarity.size(), " values, expected ", num_images, " x ",
                    num_texts));
  }
  if (static_cast<int64_t>(text_to_image.size()) != num_texts) {
    throw Error(str("retrieval: ", text_to_image.size(), " caption->image entries for ", num_texts, " captions"));
  }
  if (!captions.empty() && static_cast<int64_t>(captions.size()) != num_texts) {
    throw Error(str("retrieval: ", captions.size(), " caption texts for ", num_texts, " captions"));
  }
  for (float s : similarity) {
    if (!std::isfinite(s)) throw Error("retrieval: the similarity matrix holds a non-finite value");
  }
  std::vector<std::set<std::string>> image_texts(static_cast<size_t>(num_images));
  std::vector<int64_t> captions_of(static_cast<size_t>(num_images), 0);
  for (int64_t t = 0; t < num_texts; ++t) {
    const int64_t i = text_to_image[t];
    if (i < 0 || i >= num_images) throw Error(str("retrieval: caption ", t, " maps to image ", i, " of ", num_images));
    ++captions_of[i];
    if (!captions.empty()) image_texts[i].insert(captions[t]);
  }
  for (int64_t i = 0; i < num_images; ++i) {
    if (captions_of[i] == 0) throw Error(str("retrieval: image ", i, " has no caption"));
  }
  auto correct = [&](int64_t i, int64_t t) {
    return text_to_image[t] == i || (!captions.empty() && image_texts[i].count(captions[t]) != 0);
  };
  auto sim = [&](int64_t i, int64_t t) { return similarity[static_cast<size_t>(i * num_texts + t)]; };

  RetrievalRanks ranks;
  for (int64_t i = 0; i < num_images; ++i) {
    float best = -INFINITY;
    for (int64_t t = 0; t < num_texts; ++t) {
      if (correct(i, t)) best = std::max(best, sim(i, t));
    }
    int64_t ahead = 0;
    for (int64_t t = 0; t < num_texts; ++t) {
      if (!correct(i, t) && sim(i, t) >= best) ++ahead;
    }
    ranks.i2t.push_back(ahead + 1);
  }
  for (int64_t t = 0; t < num_texts; ++t) {
    float best = -INFINITY;
    for (int64_t i = 0; i < num_images; ++i) {
      if (correct(i, t)) best = std::max(best, sim(i, t));
    }
    int64_t ahead = 0;
    for (int64_t i = 0; i < num_images; ++i) {
      if (!correct(i, t) && sim(i, t) >= best) ++ahead;
    }
    ranks.t2i.push_back(ahead + 1);
  }
  return ranks;
}

RetrievalMetrics compute_retrieval(std::span<const float> similarity, int64_t num_images, int64_t num_texts,
                                   std::span<const int64_t> text_to_image, std::span<const std::string> captions) {
  return metrics_from_ranks(retrieval_ranks(similarity, num_images, num_texts, text_to_image, captions));
}

RetrievalMetrics metrics_from_ranks(const RetrievalRanks& r) {
  if (r.i2t.empty() || r.t2i.empty()) throw Error("retrieval: need at least one image and one caption");
  RetrievalMetrics m;
  m.i2t_r1 = recall_at(r.i2t, 1);
  m.i2t_r5 = recall_at(r.i2t, 5);
  m.i2t_r10 = recall_at(r.i2t, 10);
  m.t2i_r1 = recall_at(r.t2i, 1);
  m.t2i_r5 = recall_at(r.t2i, 5);
  m.t2i_r10 = recall_at(r.t2i, 10);
  m.i2t_median_rank = median(r.i2t);
  m.i2t_mean_rank = mean(r.i2t);
  m.t2i_median_rank = median(r.t2i);
  m.t2i_mean_rank = mean(r.t2i);
  m.num_images = static_cast<int64_t>(r.i2t.size());
  m.num_texts = static_cast<int64_t>(r.t2i.size());
  return m;
}

}  // namespace vlm::eval
