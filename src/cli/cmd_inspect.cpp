// `vlm inspect PATH [--json]`: what is inside a model folder or a .safetensors file: config.json,
// every tensor (name, dtype, shape) and the parameter count. Reads headers only (the tensor
// bytes stay mapped, untouched), so it is instant even for large checkpoints.
#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/command.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/tensor_store.h"

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string human_count(int64_t n) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(2);
  if (n >= 1'000'000'000) {
    s << static_cast<double>(n) / 1e9 << "B";
  } else if (n >= 1'000'000) {
    s << static_cast<double>(n) / 1e6 << "M";
  } else if (n >= 1'000) {
    s << static_cast<double>(n) / 1e3 << "K";
  } else {
    s << n;
  }
  return s.str();
}

int run_inspect(const vlm::cli::Args& args) {
  const std::string path = args.positional(0, "PATH (a model folder or a .safetensors file)");
  const auto store = vlm::io::TensorStore::open(path);
  std::optional<nlohmann::ordered_json> config;
  const std::string config_path = path + "/config.json";
  if (std::filesystem::is_directory(path) && std::filesystem::exists(config_path)) {
    try {
      config = nlohmann::ordered_json::parse(vlm::io::read_file(config_path));
    } catch (const nlohmann::json::exception& e) {
      throw vlm::FileError(config_path, std::string("not valid JSON: ") + e.what());
    }
  }
  int64_t parameters = 0;
  for (const auto& name : store.names()) parameters += store.info(name).numel();

  if (args.has("--json")) {
    nlohmann::ordered_json out;
    if (config) out["config"] = *config;
    out["tensors"] = nlohmann::ordered_json::array();
    for (const auto& name : store.names()) {
      const auto& info = store.info(name);
      out["tensors"].push_back({{"name", name}, {"dtype", vlm::io::dtype_name(info.dtype)}, {"shape", info.shape}});
    }
    out["parameters"] = parameters;
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::cout << path << "\n";
  if (config) std::cout << "config.json:\n" << config->dump(2) << "\n";
  if (!store.metadata().empty()) {
    std::cout << "metadata:\n";
    for (const auto& [k, v] : store.metadata()) std::cout << "  " << k << ": " << v << "\n";
  }
  size_t width = 0;
  for (const auto& name : store.names()) width = std::max(width, name.size());
  std::cout << "tensors (" << store.names().size() << "):\n";
  for (const auto& name : store.names()) {
    const auto& info = store.info(name);
    std::cout << "  " << std::left << std::setw(static_cast<int>(width)) << name << "  " << std::setw(4)
              << vlm::io::dtype_name(info.dtype) << "  " << shape_text(info.shape) << "\n";
  }
  std::cout << "parameters: " << parameters << " (" << human_count(parameters) << ")\n";
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "inspect",
    .usage = "PATH [--json]",
    .summary = "list a model folder's config and tensors (name, dtype, shape) and its parameter count",
    .flags = {{"--json", "", "print one JSON object {config, tensors: [{name, dtype, shape}], parameters}"}},
    .run = run_inspect,
});

}  // namespace
