// Zero-shot image classification with a stage-1 model, as OpenCLIP evaluates it: each class
// name is put into prompt templates ("a photo of a {}."), the template embeddings are averaged
// and renormalised into one classifier row per class, and an image's class is the row it scores
// highest. Top-1 / top-5 accuracy, per-class accuracy and the top-1 confusion table.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

namespace vlm::eval {

// A short set after OpenCLIP's ImageNet templates; `{}` stands for the class name.
std::vector<std::string> default_zeroshot_templates();
// "a photo of a {}." + "golden_retriever" -> "a photo of a golden retriever." (underscores as spaces).
std::string fill_template(const std::string& templ, const std::string& class_name);

// (C, K, E) template embeddings -> (C, E): the mean over templates, L2-normalised.
at::Tensor class_embeddings(const at::Tensor& template_embeds);

struct ZeroShotResult {
  std::vector<std::string> classes;
  int64_t images = 0;
  double top1 = 0, top5 = 0;                    // fractions of images
  std::vector<int64_t> class_images, class_top1_right;
  std::vector<std::vector<int64_t>> confusion;  // [true class][top-1 prediction] image counts
};
// scores (N, C): image n's score for class c; labels (N) in [0, C). Ties rank the lower class
// index first. Throws vlm::Error on bad shapes or labels.
ZeroShotResult score_zeroshot(const at::Tensor& scores, std::span<const int64_t> labels,
                              std::vector<std::string> classes);

// {"top1", "top5", "images", "classes": [{"name", "images", "top1"}], "confusion": {"labels", "counts"}}.
nlohmann::json zeroshot_json(const ZeroShotResult& result);

}  // namespace vlm::eval
