#include "train/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "io/atomic_file.h"

namespace fs = std::filesystem;

namespace vlm::train {

std::string step_dir_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "step-%07lld", static_cast<long long>(step));
  return buf;
}

Checkpointer::Checkpointer(std::string run_dir, int64_t save_every, int64_t keep)
    : run_dir_(std::move(run_dir)), save_every_(save_every), keep_(keep) {}

std::string Checkpointer::save(int64_t step, const std::function<void(const std::string&)>& fill, bool is_best) {
  fs::create_directories(dir());
  const std::string final_dir = dir() + "/" + step_dir_name(step);
  io::write_dir_atomic(final_dir, [&](const std::string& tmp) {
    fill(tmp);
    nlohmann::json manifest = {{"step", step}, {"files", nlohmann::json::object()}};
    for (const auto& entry : fs::recursive_directory_iterator(tmp)) {
      if (!entry.is_regular_file()) continue;
      manifest["files"][fs::relative(entry.path(), tmp).string()] = entry.file_size();
    }
    io::write_file_atomic(tmp + "/manifest.json", manifest.dump(2));
  });
  point("latest", step_dir_name(step));
  if (is_best) point("best", step_dir_name(step));
  prune();
  return final_dir;
}

void Checkpointer::mark_best(int64_t step) { point("best", step_dir_name(step)); }

void Checkpointer::point(const std::string& link, const std::string& target) {
  // A symlink made under a temporary name and renamed over the old one: never absent.
  const std::string path = dir() + "/" + link;
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_directory_symlink(target, tmp);
  fs::rename(tmp, path);
  io::fsync_path(dir());
}

void Checkpointer::prune() {
  std::vector<std::string> steps;
  for (const auto& entry : fs::directory_iterator(dir())) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && !entry.is_symlink() && name.rfind("step-", 0) == 0 &&
        name.find(".tmp-") == std::string::npos) {
      steps.push_back(name);
    }
  }
  std::sort(steps.begin(), steps.end());
  auto target_of = [&](const std::string& link) -> std::string {
    std::error_code ec;
    const auto t = fs::read_symlink(dir() + "/" + link, ec);
    return ec ? std::string() : t.filename().string();
  };
  const std::string latest = target_of("latest"), best = target_of("best");
  int64_t kept = 0;
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (*it == latest || *it == best) continue;
    if (kept++ < keep_) continue;
    fs::remove_all(dir() + "/" + *it);
  }
}

void Checkpointer::verify(const std::string& path) {
  const std::string manifest_path = path + "/manifest.json";
  if (!fs::exists(manifest_path)) {
    throw FileError(path, "not a complete checkpoint (no manifest.json)", "it was interrupted while being written");
  }
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(io::read_file(manifest_path));
  } catch (const nlohmann::json::exception& e) {
    throw FileError(manifest_path, std::string("unreadable manifest: ") + e.what());
  }
  for (const auto& [name, size] : manifest.at("files").items()) {
    const std::string file = path + "/" + name;
    std::error_code ec;
    const auto actual = fs::file_size(file, ec);
    if (ec) throw FileError(path, "incomplete checkpoint: " + name + " is missing");
    if (actual != size.get<uintmax_t>()) {
      throw FileError(path, str("incomplete checkpoint: ", name, " has ", actual, " bytes, the manifest says ",
                                size.get<uintmax_t>()));
    }
  }
}

std::optional<std::string> Checkpointer::latest() const {
  const std::string link = dir() + "/latest";
  if (!fs::exists(link)) return std::nullopt;
  const std::string target = fs::canonical(link).string();
  verify(target);
  return target;
}

std::optional<std::string> Checkpointer::best() const {
  const std::string link = dir() + "/best";
  if (!fs::exists(link)) return std::nullopt;
  const std::string target = fs::canonical(link).string();
  verify(target);
  return target;
}

std::string Checkpointer::resolve(const std::string& path) {
  if (!fs::exists(path)) throw FileError(path, "no such checkpoint or run directory");
  std::string dir = path;
  if (fs::exists(path + "/manifest.json")) {
    dir = path;
  } else if (fs::exists(path + "/checkpoints/latest")) {
    dir = fs::canonical(path + "/checkpoints/latest").string();
  } else if (fs::exists(path + "/latest")) {
    dir = fs::canonical(path + "/latest").string();
  } else {
    throw FileError(path, "holds no checkpoint (no manifest.json, checkpoints/latest or latest)");
  }
  verify(dir);
  return dir;
}

}  // namespace vlm::train
