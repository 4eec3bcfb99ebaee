// Checkpoints are directories, complete or absent (STYLE.md #10): checkpoints/step-NNNNNNN/
// holds whatever the trainer writes (weights, optimizer moments, state.json, config.yaml)
// plus manifest.json (every file, its size and CRC32C), written under a temporary name, fsynced
// and renamed. `latest` and `best` are symlinks swapped atomically; older steps are pruned.
// Resume picks the newest checkpoint whose content verifies, whatever `latest` says.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace vlm::train {

// How deep verify() looks: sizes only (cheap, for loading a model) or every byte against the
// manifest's CRC32C (resume, where a silently damaged optimizer state would go unnoticed).
enum class VerifyDepth { kSizes, kContent };

// What `vlm train --resume PATH` continues: the run directory, and the checkpoint when PATH
// named one (empty: the newest complete checkpoint of the run).
struct ResumeTarget {
  std::string run_dir;
  std::string checkpoint;
};

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

  // The newest step checkpoint whose content verifies; each newer one that does not is added
  // to `rejected` as "step-NNNNNNN: why". nullopt when none verifies (or there are none).
  std::optional<std::string> newest_complete(std::vector<std::string>* rejected = nullptr) const;
  // Removes what killed writers left behind (step-N.tmp-PID-K directories, latest.tmp-PID
  // links) when process PID is gone; returns the names removed.
  std::vector<std::string> clean_leftovers() const;

  // Throws FileError unless `dir` has a manifest whose files all exist with their sizes (and,
  // with kContent, their CRC32C).
  static void verify(const std::string& dir, VerifyDepth depth = VerifyDepth::kSizes);
  // A run directory, a checkpoints folder, or a checkpoint itself -> the checkpoint to load.
  static std::string resolve(const std::string& path);
  // A run directory, RUN/checkpoints or RUN/checkpoints/step-N -> what to resume; throws
  // FileError for anything else (a checkpoint outside a run, a folder that is neither).
  static ResumeTarget resolve_resume(const std::string& path);

 private:
  void point(const std::string& link, const std::string& target);
  void prune();

  std::string run_dir_;
  int64_t save_every_;
  int64_t keep_;
};

std::string step_dir_name(int64_t step);  // "step-0000120"

}  // namespace vlm::train
