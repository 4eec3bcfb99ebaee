// Optimizer parameter groups from name rules (the reference's stage 1: cross-attention and
// query tokens at lr, the rest at lr x 0.1), the AdamW/Adam built from them, and optimizer
// state saved keyed by parameter name so a resume onto a changed model is refused, not silently
// misapplied (torch::save of an optimizer keys moments by position only).
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/enums.h"

namespace vlm::train {

// One rule: trainable parameters whose name matches `pattern` (ECMAScript regex, searched
// anywhere in the name: "crossattention|query_tokens") go to this group. First matching rule wins.
struct ParamRule {
  std::string label;                   // e.g. "qformer_cross": names the group in logs and files
  std::string pattern;                 // e.g. "crossattention|query_tokens"; ".*" catches the rest
  double lr_scale = 1.0;               // group lr = base lr x lr_scale ...
  std::optional<double> lr;            // ... unless an absolute lr is given, e.g. 5e-4
  std::optional<double> weight_decay;  // default: ParamGroupOptions::weight_decay
};

struct ParamGroupOptions {
  double lr = 1e-4;             // base lr
  double weight_decay = 0.0;    // e.g. 0.01 for AdamW
  bool no_decay_bias_and_norm = true;  // 1-D parameters (biases, norm weights) get weight decay 0
  std::vector<ParamRule> rules;        // in order; a parameter matching none is an error
};

struct ParamGroup {
  std::string label;  // rule label, with ".no_decay" for the split-off 1-D parameters
  double lr = 0.0;
  double weight_decay = 0.0;
  std::vector<std::string> names;   // named_parameters() order
  std::vector<at::Tensor> params;
};

// Groups the trainable (requires_grad) parameters of `module`; each lands in exactly one group.
// Empty groups are dropped. Throws vlm::ConfigError (key "train.param_groups") naming a
// parameter no rule matches, or a rule with an invalid regex.
std::vector<ParamGroup> build_param_groups(const torch::nn::Module& module, const ParamGroupOptions& options);

using config::OptimizerKind;

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdamW;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

// One optimizer param group per ParamGroup, in order, with that group's lr and weight decay
// (Adam: L2 added to the gradient; AdamW: decoupled decay). The multi-tensor implementations
// (adam_multi_tensor.h): LibTorch's math in a few kernels per group.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<ParamGroup>& groups,
                                                        const OptimizerOptions& options);

// Saves the Adam/AdamW moments and step counts keyed by parameter name, with each group's
// label and parameter names, to `path` (torch archive, written atomically).
void save_optimizer_state(const torch::optim::Optimizer& optimizer, const std::vector<ParamGroup>& groups,
                          const std::string& path);
// Restores them; throws vlm::FileError when the file's groups, names or shapes differ from
// `groups` (a changed model or group rules), naming the first difference.
void load_optimizer_state(torch::optim::Optimizer& optimizer, const std::vector<ParamGroup>& groups,
                          const std::string& path);

}  // namespace vlm::train
