#include "eval/zeroshot.h"

#include <torch/torch.h>

#include "core/error.h"

namespace vlm::eval {

std::vector<std::string> default_zeroshot_templates() {
  return {"a photo of a {}.",       "a bad photo of a {}.",  "a photo of the large {}.", "a photo of the small {}.",
          "a close-up photo of a {}.", "a bright photo of a {}.", "itap of a {}."};
}

std::string fill_template(const std::string& templ, const std::string& class_name) {
  std::string name = class_name;
  std::replace(name.begin(), name.end(), '_', ' ');
  const auto at = templ.find("{}");
  if (at == std::string::npos) throw Error("zero-shot template '" + templ + "' has no {} for the class name");
  return templ.substr(0, at) + name + templ.substr(at + 2);
}

at::Tensor class_embeddings(const at::Tensor& template_embeds) {
  TORCH_CHECK(template_embeds.dim() == 3, "class_embeddings: expected (C, K, E), got ", template_embeds.sizes());
  namespace F = torch::nn::functional;
  const at::Tensor each = F::normalize(template_embeds.to(torch::kFloat32), F::NormalizeFuncOptions().dim(2));
  return F::normalize(each.mean(1), F::NormalizeFuncOptions().dim(1));  // (C, E)
}

ZeroShotResult score_zeroshot(const at::Tensor& scores, std::span<const int64_t> labels,
                              std::vector<std::string> classes) {
  const auto C = static_cast<int64_t>(classes.size());
  if (scores.dim() != 2 || scores.size(1) != C || scores.size(0) != static_cast<int64_t>(labels.size())) {
    throw Error(vlm::str("zero-shot: scores ", scores.sizes(), " for ", labels.size(), " images and ", C, " classes"));
  }
  ZeroShotResult r;
  r.classes = std::move(classes);
  r.images = scores.size(0);
  r.class_images.assign(static_cast<size_t>(C), 0);
  r.class_top1_right.assign(static_cast<size_t>(C), 0);
  r.confusion.assign(static_cast<size_t>(C), std::vector<int64_t>(static_cast<size_t>(C), 0));
  const at::Tensor s = scores.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  int64_t top1 = 0, top5 = 0;
  for (int64_t n = 0; n < r.images; ++n) {
    const int64_t label = labels[n];
    if (label < 0 || label >= C) throw Error(str("zero-shot: image ", n, " has label ", label, " of ", C, " classes"));
    const float* row = s[n].data_ptr<float>();
    // Rank of the true class: classes scoring higher, or the same with a lower index, come first.
    int64_t ahead = 0, predicted = 0;
    for (int64_t c = 0; c < C; ++c) {
      if (row[c] > row[label] || (row[c] == row[label] && c < label)) ++ahead;
      if (row[c] > row[predicted]) predicted = c;
    }
    top1 += ahead == 0 ? 1 : 0;
    top5 += ahead < 5 ? 1 : 0;
    ++r.class_images[label];
    r.class_top1_right[label] += predicted == label ? 1 : 0;
    ++r.confusion[label][predicted];
  }
  if (r.images > 0) {
    r.top1 = static_cast<double>(top1) / static_cast<double>(r.images);
    r.top5 = static_cast<double>(top5) / static_cast<double>(r.images);
  }
  return r;
}

nlohmann::json zeroshot_json(const ZeroShotResult& r) {
  nlohmann::json classes = nlohmann::json::array();
  for (size_t c = 0; c < r.classes.size(); ++c) {
    const int64_t n = r.class_images[c];
    classes.push_back({{"name", r.classes[c]},
                       {"images", n},
                       {"top1", n == 0 ? 0.0 : static_cast<double>(r.class_top1_right[c]) / static_cast<double>(n)}});
  }
  return {{"top1", r.top1},
          {"top5", r.top5},
          {"images", r.images},
          {"classes", classes},
          {"confusion", {{"labels", r.classes}, {"counts", r.confusion}}}};
}

}  // namespace vlm::eval
