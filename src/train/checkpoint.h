// Checkpoints are directories, complete or absent (STYLE.md #10): checkpoints/step-NNNNNNN/
// holds whatever the trainer writes (weights, optimizer moments, state.json, config.yaml)
// plus manifest.json (every file and its size), written under a temporary name, fsynced and
// renamed. `latest` and `best` are symlinks swapped atomically; older steps are pruned.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace vlm::train {

class Checkpointer {
 public:
  // keep = step checkpoints kept besides those `latest` and `best` point to.
  Checkpointer(std::string run_dir, int64_t save_every, int64_t keep);

  bool due(int64_t step, bool last) const { return last || (save_every_ > 0 && step % save_every_ == 0); }

  // Writes checkpoints/step-N via fill(dir), points `latest` at it (and `best` when
  // is_best), prunes. Returns the final directory.
  std::string save(int64_t step, const std::function<void(const std::string& dir)>& fill, bool is_best = false);
  // Points `best` at an existing step checkpoint.
  void mark_best(int64_t step);

  // The directory `latest` points to, verified complete; nullopt when there is none.
  std::optional<std::string> latest() const;
  std::optional<std::string> best() const;
  std::string dir() const { return run_dir_ + "/checkpoints"; }

  // Throws FileError unless `dir` has a manifest whose files all exist with their sizes.
  static void verify(const std::string& dir);
  // A run directory, a checkpoints folder, or a checkpoint itself -> the checkpoint to load.
  static std::string resolve(const std::string& path);

 private:
  void point(const std::string& link, const std::string& target);
  void prune();

  std::string run_dir_;
  int64_t save_every_;
  int64_t keep_;
};

std::string step_dir_name(int64_t step);  // "step-0000120"

}  // namespace vlm::train
