// LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") as PEFT's
// peft/tuners/lora/layer.py does it: y = x W^T + b + scaling * B(A(dropout(x))), A kaiming-uniform
// (a = sqrt(5)), B zeros, scaling = alpha / r (alpha / sqrt(r) with rsLoRA), base weights frozen.
// The decoder builds its projections as LoraLinear, so "wrapping" only adds `lora_A` / `lora_B`
// children: `weight` / `bias` keep their checkpoint path and the strict loader is unaffected.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/linear.h"

namespace vlm::models {

// Shape letters: N any leading dims, I in_features, O out_features, R rank.

// PEFT's LoraConfig fields (adapter_config.json names).
struct LoraConfig {
  int64_t r = 8;                   // e.g. 64: rank of A (R x I) and B (O x R)
  double lora_alpha = 8;           // e.g. 128: scaling = lora_alpha / r
  double lora_dropout = 0.0;       // e.g. 0.1: dropout on the adapter's input while training
  // Module-name suffixes ("q_proj" matches "...self_attn.q_proj"), or "all-linear": every
  // LoraLinear of the model (the LM head is a plain Linear, so it is excluded as PEFT does).
  std::vector<std::string> target_modules = {"all-linear"};
  bool use_rslora = false;         // e.g. false; true: scaling = lora_alpha / sqrt(r)

  double scaling() const;
  void validate() const;           // throws ConfigError naming the field and the fix
};

// A Linear (torch.nn.Linear's `weight` (O, I) and `bias` (O)) that can carry one LoRA adapter.
class LoraLinearImpl : public torch::nn::Module {
 public:
  LoraLinearImpl(int64_t in_features, int64_t out_features, bool bias);

  at::Tensor forward(const at::Tensor& x);  // (N, I) -> (N, O)

  // Registers lora_A (R x I, kaiming-uniform) and lora_B (O x R, zeros) in the weight's dtype and
  // device and freezes weight/bias. Throws if an adapter is already present.
  void add_adapter(const LoraConfig& cfg);
  bool has_adapter() const { return !lora_A.is_empty(); }
  // W += scaling * B A (the forward then skips the adapter); unmerge subtracts it again.
  void merge();
  void unmerge();
  bool merged() const { return merged_; }
  // W + scaling * B A as a new tensor (this layer untouched), summed in fp32 and returned in
  // `dtype` (default: W's); W alone without an adapter.
  at::Tensor merged_weight(std::optional<at::ScalarType> dtype = std::nullopt) const;
  double scaling() const { return scaling_; }
  int64_t in_features() const { return weight.size(1); }
  int64_t out_features() const { return weight.size(0); }

  at::Tensor weight, bias;  // bias undefined when built without
  Linear lora_A{nullptr}, lora_B{nullptr};

 private:
  at::Tensor delta() const;  // scaling * B A in fp32, (O, I)
  double scaling_ = 0;
  double dropout_ = 0;
  bool merged_ = false;
};
TORCH_MODULE(LoraLinear);

// Every LoraLinear under `root` with its dotted name, in registration order.
std::vector<std::pair<std::string, LoraLinear>> lora_linears(torch::nn::Module& root);

// Adds an adapter to each LoraLinear whose name matches cfg.target_modules and freezes every other
// parameter of `root` (PEFT's mark_only_lora_as_trainable, bias "none"). Returns the wrapped names.
// Throws ConfigError when a target matches nothing.
std::vector<std::string> apply_lora(torch::nn::Module& root, const LoraConfig& cfg);
// The distinct last name components of the wrapped modules (what adapter_config.json's
// target_modules lists once "all-linear" is resolved), sorted.
std::vector<std::string> lora_target_names(torch::nn::Module& root);

void merge_lora(torch::nn::Module& root);
void unmerge_lora(torch::nn::Module& root);
// lora_A / lora_B weights under their module names ("model.layers.0.self_attn.q_proj.lora_A.weight").
std::vector<std::pair<std::string, at::Tensor>> lora_state(torch::nn::Module& root);
std::vector<at::Tensor> lora_parameters(torch::nn::Module& root);

}  // namespace vlm::models
