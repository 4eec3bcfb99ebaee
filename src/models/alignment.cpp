#include "models/alignment.h"

#include <torch/torch.h>

#include <cmath>

namespace vlm::models {

AlignmentModelImpl::AlignmentModelImpl(ViTModel v, QFormer q, double temperature, bool learn_temperature,
                                       int64_t itg_vocab, const at::Tensor& tag_prior, int64_t tag_width)
    : vision(register_module("vision", std::move(v))),
      qformer(register_module("qformer", std::move(q))),
      fixed_temperature(temperature) {
  if (itg_vocab > 0) itg_head = register_module("itg_head", Linear(qformer->config().hidden_size(), itg_vocab));
  if (tag_prior.defined()) {
    tag_head = register_module("tag_head", Linear(tag_width, tag_prior.size(0)));
    torch::NoGradGuard no_grad;
    tag_head->bias.copy_(tag_prior);
  }
  if (learn_temperature) log_scale = register_parameter("log_scale", torch::full({}, std::log(1.0 / temperature)));
}

at::Tensor AlignmentModelImpl::vision_features(const at::Tensor& pixel_values) {
  return models::vision_features(*vision, pixel_values);  // (B, 1 + P, Dv)
}

bool is_stage1_training_head(const std::string& name) {
  return name.rfind("itg_head.", 0) == 0 || name.rfind("tag_head.", 0) == 0 || name == "log_scale";
}

}  // namespace vlm::models
