// LoRA adapters on LoraLinear layers, after PEFT's peft/tuners/lora/layer.py (see lora.h).
// Shape letters: N leading dims, I in_features, O out_features, R rank.
#include "models/lora.h"

#include <cmath>
#include <set>

#include "core/error.h"

namespace vlm::models {

double LoraConfig::scaling() const {
  return use_rslora ? lora_alpha / std::sqrt(static_cast<double>(r)) : lora_alpha / static_cast<double>(r);
}

void LoraConfig::validate() const {
  if (r <= 0) throw ConfigError("lora.r", str("must be positive, got ", r), "e.g. r: 64");
  if (lora_alpha <= 0) throw ConfigError("lora.lora_alpha", str("must be positive, got ", lora_alpha));
  if (lora_dropout < 0 || lora_dropout >= 1)
    throw ConfigError("lora.lora_dropout", str("must be in [0, 1), got ", lora_dropout));
  if (target_modules.empty())
    throw ConfigError("lora.target_modules", "is empty", "use [all-linear] or module names such as q_proj");
}

LoraLinearImpl::LoraLinearImpl(int64_t in_features, int64_t out_features, bool with_bias) {
  TORCH_CHECK(in_features > 0 && out_features > 0, "LoraLinear needs positive sizes, got ", in_features, " x ",
              out_features);
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  // torch.nn.Linear's default init; models overwrite it with their own initialiser.
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (with_bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    bias = register_parameter("bias", torch::empty({out_features}).uniform_(-bound, bound));
  }
}

at::Tensor LoraLinearImpl::forward(const at::Tensor& x) {
  at::Tensor y = torch::linear(x, weight, bias);  // (N, O)
  if (!has_adapter() || merged_) return y;
  const at::Tensor a_in = torch::dropout(x.to(lora_A->weight.scalar_type()), dropout_, is_training());
  return y + (lora_B(lora_A(a_in)) * scaling_).to(y.scalar_type());  // (N, I) -> (N, R) -> (N, O)
}

void LoraLinearImpl::add_adapter(const LoraConfig& cfg) {
  cfg.validate();
  TORCH_CHECK(!has_adapter(), "this layer already has a LoRA adapter");
  const auto options = weight.options();
  lora_A = register_module(
      "lora_A", Linear(torch::nn::LinearOptions(in_features(), cfg.r).bias(false)));
  lora_B = register_module(
      "lora_B", Linear(torch::nn::LinearOptions(cfg.r, out_features()).bias(false)));
  lora_A->to(options.device(), options.dtype().toScalarType());
  lora_B->to(options.device(), options.dtype().toScalarType());
  {
    torch::NoGradGuard no_grad;
    // PEFT's reset_lora_parameters(init_lora_weights=True): A as nn.Linear's kaiming-uniform, B zeros.
    torch::nn::init::kaiming_uniform_(lora_A->weight, std::sqrt(5.0));
    lora_B->weight.zero_();
  }
  scaling_ = cfg.scaling();
  dropout_ = cfg.lora_dropout;
  merged_ = false;
  weight.set_requires_grad(false);
  if (bias.defined()) bias.set_requires_grad(false);
}

at::Tensor LoraLinearImpl::delta() const {
  torch::NoGradGuard no_grad;
  return torch::matmul(lora_B->weight.to(at::kFloat), lora_A->weight.to(at::kFloat)) * scaling_;  // (O, I)
}

void LoraLinearImpl::merge() {
  TORCH_CHECK(has_adapter(), "merge: this layer has no LoRA adapter");
  if (merged_) return;
  torch::NoGradGuard no_grad;
  weight.copy_(weight.to(at::kFloat) + delta());
  merged_ = true;
}

void LoraLinearImpl::unmerge() {
  TORCH_CHECK(has_adapter(), "unmerge: this layer has no LoRA adapter");
  if (!merged_) return;
  torch::NoGradGuard no_grad;
  weight.copy_(weight.to(at::kFloat) - delta());
  merged_ = false;
}

at::Tensor LoraLinearImpl::merged_weight(std::optional<at::ScalarType> dtype) const {
  torch::NoGradGuard no_grad;
  const at::ScalarType out = dtype.value_or(weight.scalar_type());
  if (!has_adapter() || merged_) return weight.detach().to(out, /*non_blocking=*/false, /*copy=*/true);
  return (weight.to(at::kFloat) + delta()).to(out);
}

std::vector<std::pair<std::string, LoraLinear>> lora_linears(torch::nn::Module& root) {
  std::vector<std::pair<std::string, LoraLinear>> out;
  for (const auto& item : root.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (auto layer = std::dynamic_pointer_cast<LoraLinearImpl>(item.value())) out.emplace_back(item.key(), LoraLinear(layer));
  }
  return out;
}

namespace {

bool matches_target(const std::string& name, const std::string& target) {
  return name == target || (name.size() > target.size() && name.ends_with(target) &&
                            name[name.size() - target.size() - 1] == '.');
}

}  // namespace

std::vector<std::string> apply_lora(torch::nn::Module& root, const LoraConfig& cfg) {
  cfg.validate();
  const bool all_linear =
      std::find(cfg.target_modules.begin(), cfg.target_modules.end(), "all-linear") != cfg.target_modules.end();
  auto layers = lora_linears(root);
  std::set<std::string> used;
  std::vector<std::string> wrapped;
  for (auto& [name, layer] : layers) {
    bool hit = all_linear;
    for (const auto& t : cfg.target_modules) {
      if (t != "all-linear" && matches_target(name, t)) {
        used.insert(t);
        hit = true;
      }
    }
    if (!hit) continue;
    layer->add_adapter(cfg);
    wrapped.push_back(name);
  }
  for (const auto& t : cfg.target_modules) {
    if (t != "all-linear" && !used.count(t))
      throw ConfigError("lora.target_modules", str("'", t, "' matches no linear layer of the model"),
                        "use module names such as q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj");
  }
  // PEFT's mark_only_lora_as_trainable with bias "none": everything else is frozen.
  for (auto& item : root.named_parameters(/*recurse=*/true)) {
    const bool is_lora = item.key().find(".lora_A.") != std::string::npos ||
                         item.key().find(".lora_B.") != std::string::npos;
    item.value().set_requires_grad(is_lora);
  }
  return wrapped;
}

std::vector<std::string> lora_target_names(torch::nn::Module& root) {
  std::set<std::string> names;
  for (const auto& [name, layer] : lora_linears(root)) {
    if (!layer->has_adapter()) continue;
    const size_t dot = name.rfind('.');
    names.insert(dot == std::string::npos ? name : name.substr(dot + 1));
  }
  return {names.begin(), names.end()};
}

void merge_lora(torch::nn::Module& root) {
  for (auto& [name, layer] : lora_linears(root))
    if (layer->has_adapter()) layer->merge();
}

void unmerge_lora(torch::nn::Module& root) {
  for (auto& [name, layer] : lora_linears(root))
    if (layer->has_adapter()) layer->unmerge();
}

std::vector<std::pair<std::string, at::Tensor>> lora_state(torch::nn::Module& root) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [name, layer] : lora_linears(root)) {
    if (!layer->has_adapter()) continue;
    out.emplace_back(name + ".lora_A.weight", layer->lora_A->weight);
    out.emplace_back(name + ".lora_B.weight", layer->lora_B->weight);
  }
  return out;
}

std::vector<at::Tensor> lora_parameters(torch::nn::Module& root) {
  std::vector<at::Tensor> out;
  for (const auto& [name, tensor] : lora_state(root)) out.push_back(tensor);
  return out;
}

}  // namespace vlm::models
