#include "train/checkpoint.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "io/atomic_file.h"
#include "io/jsonl.h"
#include "train/crc32c.h"

namespace fs = std::filesystem;

namespace vlm::train {
namespace {

// CRC32C of a whole file, read in 1 MiB blocks.
uint32_t file_crc32c(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open to checksum");
  std::vector<char> buf(size_t{1} << 20);
  uint32_t crc = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    crc = crc32c(buf.data(), static_cast<size_t>(in.gcount()), crc);
  }
  if (in.bad()) throw FileError(path, "read error while checksumming");
  return crc;
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", v);
  return buf;
}

bool is_step_name(const std::string& name) {
  return name.size() > 5 && name.rfind("step-", 0) == 0 &&
         std::all_of(name.begin() + 5, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The PID in "NAME.tmp-PID[-K[.old]]", or -1.
long leftover_pid(const std::string& name) {
  const size_t at = name.find(".tmp-");
  if (at == std::string::npos) return -1;
  const char* digits = name.c_str() + at + 5;
  char* end = nullptr;
  const long pid = std::strtol(digits, &end, 10);
  return end == digits || pid <= 0 ? -1 : pid;
}

bool process_alive(long pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

}  // namespace

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
      manifest["files"][fs::relative(entry.path(), tmp).string()] = {
          {"size", entry.file_size()}, {"crc32c", hex32(file_crc32c(entry.path().string()))}};
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
    if (entry.is_directory() && !entry.is_symlink() && is_step_name(name)) {
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
    if (!latest.empty() && *it > latest) {
      // Newer than the step this run continued from: a checkpoint the resume passed over as
      // damaged (removed: it would hold the name of a later save and stand in for a good one),
      // or one the user resumed before on purpose (kept, and not counted against `keep`).
      try {
        verify(dir() + "/" + *it);
      } catch (const FileError& e) {
        log::warn("removing ", *it, ", newer than the latest step and damaged: ", e.what());
        fs::remove_all(dir() + "/" + *it);
      }
      continue;
    }
    if (kept++ < keep_) continue;
    fs::remove_all(dir() + "/" + *it);
  }
}

void Checkpointer::verify(const std::string& path, VerifyDepth depth) {
  const std::string manifest_path = path + "/manifest.json";
  if (!fs::exists(manifest_path)) {
    throw FileError(path, "not a complete checkpoint (no manifest.json)", "it was interrupted while being written");
  }
  const nlohmann::json manifest = io::read_json_file(manifest_path);
  if (!manifest.is_object() || !manifest.contains("files") || !manifest["files"].is_object()) {
    throw FileError(manifest_path, "unreadable manifest: no \"files\" object");
  }
  for (const auto& [name, entry] : manifest["files"].items()) {
    // Manifests before content checksums hold the size alone.
    const bool has_crc = entry.is_object() && entry.contains("crc32c") && entry["crc32c"].is_string();
    const nlohmann::json& size = entry.is_object() ? entry.value("size", nlohmann::json()) : entry;
    if (!size.is_number_unsigned()) throw FileError(manifest_path, "unreadable manifest: no size for " + name);
    const std::string file = path + "/" + name;
    std::error_code ec;
    const auto actual = fs::file_size(file, ec);
    if (ec) throw FileError(path, "incomplete checkpoint: " + name + " is missing");
    if (actual != size.get<uintmax_t>()) {
      throw FileError(path, str("incomplete checkpoint: ", name, " has ", actual, " bytes, the manifest says ",
                                size.get<uintmax_t>()));
    }
    if (depth == VerifyDepth::kContent && has_crc) {
      const std::string crc = hex32(file_crc32c(file));
      if (crc != entry["crc32c"].get<std::string>()) {
        throw FileError(path, str("corrupt checkpoint: ", name, " has CRC32C ", crc, ", the manifest says ",
                                  entry["crc32c"].get<std::string>()),
                        "the file was damaged after it was written (disk, copy); resume from another checkpoint");
      }
    }
  }
}

std::optional<std::string> Checkpointer::newest_complete(std::vector<std::string>* rejected) const {
  std::error_code ec;
  if (!fs::is_directory(dir(), ec)) return std::nullopt;
  std::vector<std::string> steps;
  for (const auto& entry : fs::directory_iterator(dir())) {
    const std::string name = entry.path().filename().string();
    if (is_step_name(name) && entry.is_directory() && !entry.is_symlink()) steps.push_back(name);
  }
  std::sort(steps.rbegin(), steps.rend());  // zero-padded: newest first
  for (const std::string& name : steps) {
    try {
      verify(dir() + "/" + name, VerifyDepth::kContent);
      return fs::canonical(dir() + "/" + name).string();
    } catch (const FileError& e) {
      if (rejected != nullptr) {
        std::string why = e.what();
        const std::string prefix = dir() + "/" + name + ": ";
        if (why.rfind(prefix, 0) == 0) why.erase(0, prefix.size());
        rejected->push_back(name + ": " + why);
      }
    }
  }
  return std::nullopt;
}

std::vector<std::string> Checkpointer::clean_leftovers() const {
  std::vector<std::string> removed;
  std::error_code ec;
  if (!fs::is_directory(dir(), ec)) return removed;
  std::vector<fs::path> doomed;
  for (const auto& entry : fs::directory_iterator(dir())) {
    const std::string name = entry.path().filename().string();
    const long pid = leftover_pid(name);
    if (pid > 0 && pid != static_cast<long>(::getpid()) && !process_alive(pid)) doomed.push_back(entry.path());
  }
  for (const auto& path : doomed) {
    fs::remove_all(path, ec);
    if (!ec) removed.push_back(path.filename().string());
  }
  return removed;
}

ResumeTarget Checkpointer::resolve_resume(const std::string& path) {
  const std::string hint = "--resume takes a run directory (RUN) or one of its checkpoints (RUN/checkpoints/step-N)";
  std::error_code ec;
  if (!fs::exists(path, ec)) throw FileError(path, "no such run directory or checkpoint", hint);
  fs::path p = fs::path(path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();  // "runs/x/" -> "runs/x"
  if (fs::exists(p / "manifest.json")) {
    // A checkpoint: continue its run, from it. Training never happens inside the checkpoint.
    const fs::path folder = fs::absolute(p).lexically_normal().parent_path();
    if (folder.filename() != "checkpoints" || !fs::exists(folder.parent_path() / "config.yaml")) {
      throw FileError(path, "is a checkpoint outside a run's checkpoints/ folder: there is no run to continue",
                      hint + "; to train a new run from it, name it in the config (qformer.checkpoint or "
                             "lm.checkpoint)");
    }
    return {folder.parent_path().string(), fs::canonical(p).string()};
  }
  if (p.filename() == "checkpoints" && fs::exists(p.parent_path() / "config.yaml")) {
    const fs::path run = p.parent_path();
    return {run.empty() ? "." : run.string(), ""};
  }
  if (fs::is_directory(p / "checkpoints") || fs::exists(p / "config.yaml")) return {p.string(), ""};
  if (is_step_name(p.filename().string())) {
    throw FileError(path, "not a complete checkpoint (no manifest.json)",
                    "it was interrupted while being written; resume the run instead: --resume " +
                        p.parent_path().parent_path().string());
  }
  throw FileError(path, "neither a run directory (config.yaml, checkpoints/) nor a checkpoint (manifest.json)", hint);
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
