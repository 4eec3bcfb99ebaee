// Frozen product weights stored in bf16 for a run that computes under bf16 autocast.
//
// Autocast casts a product's fp32 weight to bf16 at every call, and caches the cast only for
// leaf tensors that require grad (LibTorch 1.13 and 2.x): a frozen weight (the ViT, the LM's
// base weights under LoRA) is read in fp32 and rounded again at every forward. Rounding it once
// gives the same bf16 values (both round to nearest even), so the products, the loss and every
// gradient stay bit for bit the same, while each step reads half the bytes and skips the cast,
// and the frozen weights take half the memory.
//
// What is cast: the weight and bias of every Linear (models::Linear, torch::nn::Linear), LoRA
// base layer (LoraLinear) and Conv2d whose tensors do not require grad: the ops autocast lowers
// to bf16 whole. Nothing else (embeddings, norms, trainable tensors, LoRA's A and B) changes.
// Only for forwards that run under bf16 autocast: outside it a bf16 weight meets an fp32 input.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace vlm::models {

struct FrozenCast {
  int64_t tensors = 0;  // weights and biases now stored in bf16
  int64_t values = 0;   // their element count
};

FrozenCast store_frozen_products_in_bf16(torch::nn::Module& root);

}  // namespace vlm::models
