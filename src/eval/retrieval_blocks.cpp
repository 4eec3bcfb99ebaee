#include "eval/retrieval_blocks.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"

namespace vlm::eval {
namespace {

// For each image, the captions that count as correct: its own and, with caption texts, every
// caption whose text equals one of its own (retrieval_ranks' rule). Sorted, unique.
std::vector<std::vector<int64_t>> correct_texts(int64_t num_images, std::span<const int64_t> text_to_image,
                                                std::span<const std::string> captions) {
  const auto nt = static_cast<int64_t>(text_to_image.size());
  std::vector<std::vector<int64_t>> own(static_cast<size_t>(num_images));
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t i = text_to_image[t];
    if (i < 0 || i >= num_images) throw Error(str("retrieval: caption ", t, " maps to image ", i, " of ", num_images));
    own[i].push_back(t);
  }
  for (int64_t i = 0; i < num_images; ++i) {
    if (own[i].empty()) throw Error(str("retrieval: image ", i, " has no caption"));
  }
  if (captions.empty()) return own;
  std::map<std::string_view, std::vector<int64_t>> by_text;
  for (int64_t t = 0; t < nt; ++t) by_text[captions[t]].push_back(t);
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(num_images));
  for (int64_t i = 0; i < num_images; ++i) {
    std::set<int64_t> all;
    for (int64_t t : own[i]) {
      const auto& same = by_text.at(captions[t]);
      all.insert(same.begin(), same.end());
    }
    out[i].assign(all.begin(), all.end());
  }
  return out;
}

// Scores of images [i0, i1) against every text into rows (i1 - i0, Nt), in chunks of `chunk` texts.
void score_rows(const at::Tensor& images, const at::Tensor& texts, int64_t i0, int64_t i1, int64_t chunk,
                const BlockSimilarity& similarity, at::Tensor& rows) {
  const int64_t nt = texts.size(0);
  const at::Tensor block = images.slice(0, i0, i1);
  for (int64_t t0 = 0; t0 < nt; t0 += chunk) {
    const int64_t t1 = std::min(nt, t0 + chunk);
    const at::Tensor s = similarity(block, texts.slice(0, t0, t1));  // (bi, bt)
    if (s.dim() != 2 || s.size(0) != i1 - i0 || s.size(1) != t1 - t0) {
      throw Error(vlm::str("retrieval: the similarity of ", i1 - i0, " images and ", t1 - t0, " texts has shape ",
                      s.sizes()));
    }
    rows.slice(1, t0, t1).copy_(s);
  }
  if (!torch::isfinite(rows).all().item<bool>()) throw Error("retrieval: a similarity score is not finite");
}

}  // namespace

RetrievalRanks blockwise_retrieval_ranks(const at::Tensor& image_embeds, const at::Tensor& text_embeds,
                                         std::span<const int64_t> text_to_image, const BlockSimilarity& similarity,
                                         std::span<const std::string> captions, BlockOptions options) {
  torch::NoGradGuard no_grad;
  const int64_t ni = image_embeds.size(0), nt = text_embeds.size(0);
  if (ni <= 0 || nt <= 0) throw Error("retrieval: need at least one image and one caption");
  if (static_cast<int64_t>(text_to_image.size()) != nt) {
    throw Error(str("retrieval: ", text_to_image.size(), " caption->image entries for ", nt, " captions"));
  }
  if (!captions.empty() && static_cast<int64_t>(captions.size()) != nt) {
    throw Error(str("retrieval: ", captions.size(), " caption texts for ", nt, " captions"));
  }
  const auto correct = correct_texts(ni, text_to_image, captions);
  // Block sizes: a block of rows (bi, Nt) float32 within the budget, and each chunk's
  // intermediate (bi, bt) x (values per image row / values per text row) within it too.
  const int64_t budget = std::max<int64_t>(options.max_block_bytes, 1 << 16);
  const int64_t bi = std::clamp<int64_t>(budget / (nt * 4), 1, ni);
  const int64_t widen = std::max<int64_t>(1, image_embeds[0].numel() / std::max<int64_t>(1, text_embeds[0].numel()));
  const int64_t chunk = std::clamp<int64_t>(budget / (bi * widen * 4), 1, nt);
  at::Tensor rows = torch::empty({bi, nt}, torch::kFloat32);  // (bi, Nt)

  RetrievalRanks ranks;
  ranks.i2t.resize(static_cast<size_t>(ni));
  std::vector<float> best_text(static_cast<size_t>(nt), -INFINITY);  // each caption's best correct score
  for (int64_t i0 = 0; i0 < ni; i0 += bi) {  // pass 1: image->text ranks, and the captions' best scores
    const int64_t i1 = std::min(ni, i0 + bi);
    at::Tensor r = rows.slice(0, 0, i1 - i0);  // (b, Nt)
    score_rows(image_embeds, text_embeds, i0, i1, chunk, similarity, r);
    at::Tensor best = torch::empty({i1 - i0}, torch::kFloat32);
    std::vector<int64_t> correct_ahead(static_cast<size_t>(i1 - i0));
    for (int64_t i = i0; i < i1; ++i) {
      const float* row = r[i - i0].data_ptr<float>();
      float b = -INFINITY;
      for (int64_t t : correct[i]) b = std::max(b, row[t]);
      for (int64_t t : correct[i]) {
        correct_ahead[i - i0] += row[t] >= b ? 1 : 0;
        best_text[t] = std::max(best_text[t], row[t]);
      }
      best[i - i0] = b;
    }
    // (b,) every caption at or above the best correct one
    const at::Tensor ahead = (r >= best.unsqueeze(1)).sum(1).contiguous();
    const int64_t* a = ahead.data_ptr<int64_t>();
    for (int64_t i = i0; i < i1; ++i) ranks.i2t[i] = 1 + a[i - i0] - correct_ahead[i - i0];
  }
  const at::Tensor best_t = torch::from_blob(best_text.data(), {nt}, torch::kFloat32).clone();  // (Nt,)
  at::Tensor ahead_t = torch::zeros({nt}, torch::kLong);
  std::vector<int64_t> correct_ahead_t(static_cast<size_t>(nt), 0);
  for (int64_t i0 = 0; i0 < ni; i0 += bi) {  // pass 2: text->image ranks
    const int64_t i1 = std::min(ni, i0 + bi);
    at::Tensor r = rows.slice(0, 0, i1 - i0);
    score_rows(image_embeds, text_embeds, i0, i1, chunk, similarity, r);
    ahead_t += (r >= best_t.unsqueeze(0)).sum(0);  // (Nt,)
    for (int64_t i = i0; i < i1; ++i) {
      const float* row = r[i - i0].data_ptr<float>();
      for (int64_t t : correct[i]) correct_ahead_t[t] += row[t] >= best_text[t] ? 1 : 0;
    }
  }
  ranks.t2i.resize(static_cast<size_t>(nt));
  const int64_t* a = ahead_t.data_ptr<int64_t>();
  for (int64_t t = 0; t < nt; ++t) ranks.t2i[t] = 1 + a[t] - correct_ahead_t[t];
  return ranks;
}

}  // namespace vlm::eval
