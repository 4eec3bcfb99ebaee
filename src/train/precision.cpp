#include "train/precision.h"

#include "core/log.h"
#include "models/frozen_bf16.h"

namespace vlm::train {

void store_frozen_in_bf16(const config::RunConfig& config, const c10::Device& device, torch::nn::Module& model) {
  if (!use_bf16(config, device) || !config.train.frozen_bf16) return;
  const models::FrozenCast cast = models::store_frozen_products_in_bf16(model);
  if (cast.tensors > 0)
    log::info("bf16: ", cast.tensors, " frozen weights (", cast.values, " values) stored in bf16, cast once instead of every step");
}

}  // namespace vlm::train
