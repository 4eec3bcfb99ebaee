// Parameter groups by first-matching name rule (the reference's stage-1 groups; nanoGPT's
// no-decay for 1-D parameters), the Adam/AdamW built from them, and optimizer state keyed by
// parameter name. torch::save(optimizer) keys moments by position, so a resume onto a changed
// model would apply them to the wrong tensors; here every name and shape is checked first.
#include "train/param_groups.h"

#include <torch/torch.h>

#include <regex>
#include <sstream>

#include "core/error.h"
#include "core/torch_compat.h"
#include "io/atomic_file.h"
#include "train/adam_multi_tensor.h"

namespace vlm::train {

namespace {

constexpr const char* kFormat = "vlm.optimizer_state.v1";

struct CompiledRule {
  const ParamRule* rule;
  std::regex regex;
};

std::string kind_name(OptimizerKind kind) { return std::string(config::to_string(kind)); }

}  // namespace

std::vector<ParamGroup> build_param_groups(const torch::nn::Module& module, const ParamGroupOptions& options) {
  std::vector<CompiledRule> rules;
  for (const ParamRule& rule : options.rules) {
    try {
      rules.push_back({&rule, std::regex(rule.pattern, std::regex::ECMAScript)});
    } catch (const std::regex_error& e) {
      throw ConfigError("train.param_groups", vlm::str("rule '", rule.label, "': invalid pattern '", rule.pattern, "': ", e.what()));
    }
  }
  // Two groups per rule (decay, no decay), created in rule order, dropped when empty.
  std::vector<ParamGroup> groups(2 * rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    const ParamRule& r = *rules[i].rule;
    const double lr = r.lr.value_or(options.lr * r.lr_scale);
    groups[2 * i] = ParamGroup{r.label, lr, r.weight_decay.value_or(options.weight_decay), {}, {}};
    groups[2 * i + 1] = ParamGroup{r.label + ".no_decay", lr, 0.0, {}, {}};
  }
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    const at::Tensor& p = item.value();
    if (!p.requires_grad()) continue;
    size_t match = rules.size();
    for (size_t i = 0; i < rules.size() && match == rules.size(); ++i) {
      if (std::regex_search(item.key(), rules[i].regex)) match = i;
    }
    if (match == rules.size()) {
      throw ConfigError("train.param_groups", vlm::str("trainable parameter '", item.key(), "' matches no rule"),
                        "add a last rule with pattern '.*' for the remaining parameters");
    }
    const bool no_decay = options.no_decay_bias_and_norm && p.dim() < 2;
    ParamGroup& group = groups[2 * match + (no_decay ? 1 : 0)];
    group.names.push_back(item.key());
    group.params.push_back(p);
  }
  std::vector<ParamGroup> kept;
  for (ParamGroup& g : groups) {
    if (!g.params.empty()) kept.push_back(std::move(g));
  }
  return kept;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<ParamGroup>& groups,
                                                        const OptimizerOptions& options) {
  if (groups.empty()) throw Error("make_optimizer: no trainable parameters", "check which modules are frozen");
  const auto betas = std::make_tuple(options.beta1, options.beta2);
  std::vector<torch::optim::OptimizerParamGroup> torch_groups;
  for (const ParamGroup& g : groups) {
    if (options.kind == OptimizerKind::kAdamW) {
      torch_groups.emplace_back(g.params, std::make_unique<torch::optim::AdamWOptions>(
                                              torch::optim::AdamWOptions(g.lr).betas(betas).eps(options.eps).weight_decay(g.weight_decay)));
    } else {
      torch_groups.emplace_back(g.params, std::make_unique<torch::optim::AdamOptions>(
                                              torch::optim::AdamOptions(g.lr).betas(betas).eps(options.eps).weight_decay(g.weight_decay)));
    }
  }
  if (options.kind == OptimizerKind::kAdamW) {
    return std::make_unique<MultiTensorAdamW>(std::move(torch_groups), torch::optim::AdamWOptions(groups[0].lr));
  }
  return std::make_unique<MultiTensorAdam>(std::move(torch_groups), torch::optim::AdamOptions(groups[0].lr));
}

namespace {

// Adam and AdamW keep the same four fields in differently named state classes.
template <typename State>
void write_states(const torch::optim::Optimizer& optimizer, const std::vector<ParamGroup>& groups,
                  c10::Dict<std::string, at::Tensor>& tensors, c10::Dict<std::string, int64_t>& steps) {
  const auto& state = optimizer.state();
  for (const ParamGroup& g : groups) {
    for (size_t j = 0; j < g.params.size(); ++j) {
      const auto it = state.find(compat::optimizer_state_key(g.params[j]));
      if (it == state.end()) continue;  // no step taken for this parameter yet
      const auto& s = static_cast<const State&>(*it->second);
      const std::string& name = g.names[j];
      steps.insert(name, s.step());
      tensors.insert(name + "/exp_avg", s.exp_avg().detach().cpu());
      tensors.insert(name + "/exp_avg_sq", s.exp_avg_sq().detach().cpu());
      if (s.max_exp_avg_sq().defined()) tensors.insert(name + "/max_exp_avg_sq", s.max_exp_avg_sq().detach().cpu());
    }
  }
}

template <typename State>
void read_states(torch::optim::Optimizer& optimizer, const std::vector<ParamGroup>& groups,
                 const c10::Dict<std::string, at::Tensor>& tensors, const c10::Dict<std::string, int64_t>& steps,
                 const std::string& path) {
  auto tensor_for = [&](const std::string& key, const at::Tensor& param) -> at::Tensor {
    const auto it = tensors.find(key);
    if (it == tensors.end()) return {};
    const at::Tensor& t = it->value();
    if (t.sizes() != param.sizes()) {
      throw FileError(path, vlm::str("optimizer state '", key, "' has shape ", t.sizes(), " but the parameter has ",
                                param.sizes()),
                      "the model changed since this checkpoint; start a new run or use matching code");
    }
    return t.to(param.options().dtype(t.scalar_type())).clone();
  };
  auto& state = optimizer.state();
  for (const ParamGroup& g : groups) {
    for (size_t j = 0; j < g.params.size(); ++j) {
      const at::Tensor& p = g.params[j];
      const std::string& name = g.names[j];
      const auto key = compat::optimizer_state_key(p);
      const auto step = steps.find(name);
      if (step == steps.end()) {
        state.erase(key);
        continue;
      }
      auto s = std::make_unique<State>();
      s->step(step->value());
      s->exp_avg(tensor_for(name + "/exp_avg", p));
      s->exp_avg_sq(tensor_for(name + "/exp_avg_sq", p));
      s->max_exp_avg_sq(tensor_for(name + "/max_exp_avg_sq", p));
      if (!s->exp_avg().defined() || !s->exp_avg_sq().defined()) {
        throw FileError(path, vlm::str("optimizer state for '", name, "' lacks its moments"));
      }
      state[key] = std::move(s);
    }
  }
}

OptimizerKind kind_of(const torch::optim::Optimizer& optimizer) {
  if (dynamic_cast<const torch::optim::AdamW*>(&optimizer) != nullptr) return OptimizerKind::kAdamW;
  if (dynamic_cast<const torch::optim::Adam*>(&optimizer) != nullptr) return OptimizerKind::kAdam;
  throw Error("optimizer state: only Adam and AdamW are supported");
}

void check_layout(const torch::optim::Optimizer& optimizer, const std::vector<ParamGroup>& groups) {
  const auto& torch_groups = optimizer.param_groups();
  bool same = torch_groups.size() == groups.size();
  for (size_t i = 0; same && i < groups.size(); ++i) {
    same = torch_groups[i].params().size() == groups[i].params.size();
    for (size_t j = 0; same && j < groups[i].params.size(); ++j) {
      same = torch_groups[i].params()[j].is_same(groups[i].params[j]);
    }
  }
  if (!same) throw Error("optimizer state: the optimizer was not built from these parameter groups");
}

}  // namespace

void save_optimizer_state(const torch::optim::Optimizer& optimizer, const std::vector<ParamGroup>& groups,
                          const std::string& path) {
  check_layout(optimizer, groups);
  const OptimizerKind kind = kind_of(optimizer);
  c10::Dict<std::string, at::Tensor> tensors;
  c10::Dict<std::string, int64_t> steps;
  if (kind == OptimizerKind::kAdamW) {
    write_states<torch::optim::AdamWParamState>(optimizer, groups, tensors, steps);
  } else {
    write_states<torch::optim::AdamParamState>(optimizer, groups, tensors, steps);
  }
  c10::List<std::string> labels;
  c10::List<c10::List<std::string>> names;
  for (const ParamGroup& g : groups) {
    labels.push_back(g.label);
    c10::List<std::string> group_names;
    for (const std::string& n : g.names) group_names.push_back(n);
    names.push_back(group_names);
  }
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("optimizer", c10::IValue(kind_name(kind)));
  archive.write("group_labels", c10::IValue(labels));
  archive.write("group_names", c10::IValue(names));
  archive.write("steps", c10::IValue(steps));
  archive.write("tensors", c10::IValue(tensors));
  std::ostringstream out;
  archive.save_to(out);
  io::write_file_atomic(path, out.str());
}

void load_optimizer_state(torch::optim::Optimizer& optimizer, const std::vector<ParamGroup>& groups,
                          const std::string& path) {
  check_layout(optimizer, groups);
  torch::serialize::InputArchive archive;
  c10::IValue format, kind, labels, names, steps, tensors;
  try {
    archive.load_from(path);
    archive.read("format", format);
    archive.read("optimizer", kind);
    archive.read("group_labels", labels);
    archive.read("group_names", names);
    archive.read("steps", steps);
    archive.read("tensors", tensors);
  } catch (const c10::Error& e) {
    throw FileError(path, vlm::str("not a readable optimizer state: ", e.what_without_backtrace()));
  }
  if (!format.isString() || format.toStringRef() != kFormat) {
    throw FileError(path, "not a vlm optimizer state (format tag missing or different)");
  }
  const OptimizerKind current = kind_of(optimizer);
  if (kind.toStringRef() != kind_name(current)) {
    throw FileError(path, vlm::str("optimizer state is for ", kind.toStringRef(), " but the optimizer is ", kind_name(current)));
  }
  const auto file_labels = labels.toList();
  const auto file_names = names.toList();
  if (file_labels.size() != groups.size()) {
    throw FileError(path, vlm::str("optimizer state has ", file_labels.size(), " parameter groups, the run has ", groups.size()),
                    "the model or the parameter-group rules changed since this checkpoint");
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    const std::string file_label = file_labels.get(i).toStringRef();
    if (file_label != groups[i].label) {
      throw FileError(path, vlm::str("parameter group ", i, " is '", file_label, "' in the file but '", groups[i].label,
                                "' in the run"));
    }
    const auto list = file_names.get(i).toList();
    for (size_t j = 0; j < std::max<size_t>(list.size(), groups[i].names.size()); ++j) {
      const std::string in_file = j < list.size() ? list.get(j).toStringRef() : std::string("(none)");
      const std::string in_run = j < groups[i].names.size() ? groups[i].names[j] : std::string("(none)");
      if (in_file != in_run) {
        throw FileError(path, vlm::str("group '", groups[i].label, "' parameter ", j, " is '", in_file,
                                  "' in the optimizer state but '", in_run, "' in the model"),
                        "the model changed since this checkpoint; its optimizer state cannot be applied");
      }
    }
  }
  const auto step_dict = c10::impl::toTypedDict<std::string, int64_t>(steps.toGenericDict());
  const auto tensor_dict = c10::impl::toTypedDict<std::string, at::Tensor>(tensors.toGenericDict());
  if (current == OptimizerKind::kAdamW) {
    read_states<torch::optim::AdamWParamState>(optimizer, groups, tensor_dict, step_dict, path);
  } else {
    read_states<torch::optim::AdamParamState>(optimizer, groups, tensor_dict, step_dict, path);
  }
}

}  // namespace vlm::train
