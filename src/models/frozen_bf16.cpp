#include "models/frozen_bf16.h"

#include <unordered_set>
#include <vector>

#include "models/lora.h"

namespace vlm::models {

namespace {

// The weight and bias of one product layer, or nothing when `module` is not one.
std::vector<at::Tensor*> product_tensors(torch::nn::Module& module) {
  if (auto* m = dynamic_cast<torch::nn::LinearImpl*>(&module)) return {&m->weight, &m->bias};  // models::Linear too
  if (auto* m = dynamic_cast<LoraLinearImpl*>(&module)) return {&m->weight, &m->bias};
  if (auto* m = dynamic_cast<torch::nn::Conv2dImpl*>(&module)) return {&m->weight, &m->bias};
  return {};
}

}  // namespace

FrozenCast store_frozen_products_in_bf16(torch::nn::Module& root) {
  torch::NoGradGuard no_grad;
  std::vector<torch::nn::Module*> modules{&root};  // root itself need not be held by a shared_ptr
  for (const auto& m : root.modules(/*include_self=*/false)) modules.push_back(m.get());
  // A tensor that a product shares with another kind of layer (a tied embedding) stays as it is.
  std::unordered_set<const void*> others;
  for (torch::nn::Module* module : modules)
    if (product_tensors(*module).empty())
      for (const auto& p : module->parameters(/*recurse=*/false)) others.insert(p.data_ptr());
  FrozenCast done;
  for (torch::nn::Module* module : modules) {
    for (at::Tensor* t : product_tensors(*module)) {
      if (!t->defined() || t->requires_grad() || t->scalar_type() != at::kFloat || others.count(t->data_ptr())) continue;
      // set_data keeps the parameter's identity (module and optimizer references stay valid).
      t->set_data(t->to(at::kBFloat16));
      ++done.tensors;
      done.values += t->numel();
    }
  }
  return done;
}

}  // namespace vlm::models
