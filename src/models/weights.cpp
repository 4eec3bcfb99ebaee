// Strict loading and saving of module tensors by Hugging Face names (see weights.h).
#include "models/weights.h"

#include <torch/torch.h>

#include <regex>
#include <set>
#include <sstream>

#include "core/error.h"
#include "io/tensor_store.h"

namespace vlm::models {
namespace {

std::string shape_str(at::IntArrayRef shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

const NameTable::Rule* find_rule(const std::vector<NameTable::Rule>& rules, std::string_view name) {
  for (const auto& rule : rules)
    if (glob_match(rule.pattern, name)) return &rule;
  return nullptr;
}

// Parameters then buffers, by their dotted module names.
std::map<std::string, at::Tensor> module_tensors(const torch::nn::Module& module) {
  std::map<std::string, at::Tensor> out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) out.emplace(item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/true)) out.emplace(item.key(), item.value());
  return out;
}

// The tensors the table expects in a checkpoint: everything but `computed` buffers.
std::map<std::string, at::Tensor> stored_tensors(const torch::nn::Module& module, const NameTable& table) {
  auto tensors = module_tensors(module);
  std::erase_if(tensors, [&](const auto& kv) { return find_rule(table.computed, kv.first) != nullptr; });
  return tensors;
}

struct CompiledFallback {
  std::regex target;
  const NameTable::Fallback* rule;
};

std::vector<CompiledFallback> compile_fallbacks(const NameTable& table) {
  std::vector<CompiledFallback> out;
  for (const auto& f : table.fallbacks) out.push_back({std::regex(f.target), &f});
  return out;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view name) {
  // Iterative matcher with backtracking to the last '*': linear in practice for these short names.
  size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string LoadReport::summary() const {
  return str(loaded, " tensors loaded, ", skipped.size(), " skipped knowingly, ", filled_from.size(),
             " filled from other tensors, ", kept_init.size(), " new (kept their initialisation)");
}

std::vector<std::string> expected_names(const torch::nn::Module& module, const NameTable& table) {
  std::vector<std::string> names;
  for (const auto& kv : stored_tensors(module, table)) names.push_back(kv.first);
  return names;
}

LoadReport load_weights(torch::nn::Module& module, const std::string& path, const NameTable& table) {
  return load_weights(module, io::TensorStore::open(path), table);
}

LoadReport load_weights(torch::nn::Module& module, const io::TensorStore& store, const NameTable& table) {
  const auto targets = stored_tensors(module, table);
  std::vector<std::pair<std::regex, std::string>> renames;
  for (const auto& r : table.renames) renames.emplace_back(std::regex(r.from), r.to);

  LoadReport report;
  std::vector<std::string> problems;
  std::map<std::string, std::string> source_of;   // module name -> checkpoint name
  std::map<std::string, std::string> by_mapped;   // mapped checkpoint name -> checkpoint name

  for (const std::string& name : store.names()) {
    std::string key = name;
    if (!table.prefix.empty() && key.starts_with(table.prefix)) key = key.substr(table.prefix.size());
    for (const auto& [re, to] : renames) key = std::regex_replace(key, re, to);
    if (auto [it, fresh] = by_mapped.emplace(key, name); !fresh) {
      problems.push_back(str("duplicate: ", name, " and ", it->second, " both map to ", key));
      continue;
    }
    if (targets.count(key)) {
      source_of[key] = name;
    } else if (const auto* rule = find_rule(table.skip, key); rule || (rule = find_rule(table.skip, name))) {
      report.skipped.emplace_back(name, rule->reason);
    } else {
      const auto& info = store.info(name);
      problems.push_back(str("unexpected: ", name, " ", shape_str(info.shape), " in ", store.file_of(name)));
    }
  }

  const auto fallbacks = compile_fallbacks(table);
  for (const auto& [key, tensor] : targets) {
    if (source_of.count(key)) continue;
    bool filled = false;
    for (const auto& f : fallbacks) {
      if (!std::regex_match(key, f.target)) continue;
      const std::string source = std::regex_replace(key, f.target, f.rule->source);
      if (auto it = by_mapped.find(source); it != by_mapped.end()) {
        source_of[key] = it->second;
        report.filled_from.emplace_back(key, it->second);
        filled = true;
        break;
      }
    }
    if (filled) continue;
    if (find_rule(table.optional, key)) {
      report.kept_init.push_back(key);
    } else {
      problems.push_back(str("missing: ", table.prefix.empty() ? "" : "[" + table.prefix + "]", key, " ",
                             shape_str(tensor.sizes())));
    }
  }

  for (const auto& [key, name] : source_of) {
    const auto& expected = targets.at(key);
    const auto& info = store.info(name);
    if (at::IntArrayRef(info.shape) != expected.sizes())
      problems.push_back(str("shape mismatch: ", name, ": model expects ", shape_str(expected.sizes()), ", file has ",
                             shape_str(info.shape), " in ", store.file_of(name)));
  }

  if (!problems.empty()) {
    std::ostringstream msg;
    msg << "cannot load " << (table.model.empty() ? "model" : table.model) << " weights: " << problems.size()
        << " problem" << (problems.size() == 1 ? "" : "s");
    for (const auto& p : problems) msg << "\n  " << p;
    throw FileError(store.path(), msg.str(),
                    str("check that config.json belongs to these weights (sizes, layer count) and that the folder "
                        "holds a ", table.model, " checkpoint; a tensor the model does not use must be listed in "
                        "its name table's skip list with the reason"));
  }

  torch::NoGradGuard no_grad;
  for (const auto& [key, name] : source_of) {
    at::Tensor target = targets.at(key);
    target.copy_(store.get(name));  // converts dtype and device
  }
  report.loaded = source_of.size() - report.filled_from.size();
  return report;
}

void save_weights(const torch::nn::Module& module, const std::string& path, const NameTable& table, bool with_prefix,
                  const std::map<std::string, std::string>& metadata) {
  const auto tensors = stored_tensors(module, table);
  const auto fallbacks = compile_fallbacks(table);
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [key, tensor] : tensors) {
    bool tied_copy = false;
    for (const auto& f : fallbacks) {
      if (!f.rule->tied || !std::regex_match(key, f.target)) continue;
      const std::string source = std::regex_replace(key, f.target, f.rule->source);
      auto it = tensors.find(source);
      tied_copy = it != tensors.end() && it->second.is_same(tensor);
    }
    if (tied_copy) continue;
    out.emplace_back((with_prefix ? table.prefix : std::string()) + key, tensor.detach());
  }
  auto meta = metadata;
  meta.emplace("format", "pt");  // transformers refuses safetensors files without it
  io::save_tensors(path, out, meta);
}

}  // namespace vlm::models
