// The training loop shared by every stage (STYLE.md #8): it reads top-down on one screen;
// periodic work (logging, evaluation, checkpoints) lives in components that decide for
// themselves whether this is their step. Resume is exact: weights, optimizer moments, the
// schedule position, RNG state and the data position are restored from the newest complete
// checkpoint (train/checkpoint.h).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "config/run_config.h"
#include "train/checkpoint.h"
#include "train/task.h"

namespace torch::optim { class Optimizer; }

namespace vlm::train {

class Distributed;
class MetricsLogger;
class LrScheduler;
class NanGuard;

struct FitResult {
  int64_t steps = 0;             // the step reached
  double best_val_loss = 0;
  bool interrupted = false;      // stopped by SIGINT / SIGTERM (a checkpoint was written)
  std::string last_checkpoint;
};

class Trainer {
 public:
  Trainer(const config::RunConfig& config, std::string run_dir, Task& task, Distributed* dist);
  ~Trainer();
  FitResult fit();
  // Resume from this checkpoint of the run instead of its newest complete one.
  void set_resume_checkpoint(std::string dir) { resume_checkpoint_ = std::move(dir); }

  // Set by the SIGINT/SIGTERM handler (install_signal_handlers) to stop after the current step.
  static std::atomic<bool>& stop_requested();
  static void install_signal_handlers();

 private:
  // The newest complete checkpoint (warning about each newer damaged one and when it is not
  // `latest`), or the one set_resume_checkpoint named; nullopt to start fresh.
  std::optional<std::string> pick_checkpoint() const;
  int64_t restore_latest();
  // One optimizer step; true when a stop was requested (on any rank) by the step's end.
  bool train_step(int64_t step);
  void maybe_log(int64_t step);
  void maybe_evaluate(int64_t step, bool last);
  void save_checkpoint(int64_t step, bool is_best);

  config::RunConfig config_;
  std::string run_dir_;
  Task& task_;
  Distributed* dist_;
  std::vector<ParamGroup> groups_;
  std::vector<at::Tensor> params_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<LrScheduler> scheduler_;
  std::unique_ptr<NanGuard> guard_;
  std::unique_ptr<MetricsLogger> logger_;
  Checkpointer checkpointer_;
  std::string resume_checkpoint_;
  double best_val_loss_;
  // Running sums since the last log line.
  // Sums since the last log line stay on the device (fp64 scalars): read once per log line,
  // not once per step, so a GPU step never waits for the host to fetch its loss.
  at::Tensor loss_sum_;
  int64_t loss_count_ = 0;
  int64_t samples_since_log_ = 0;
  double seconds_since_log_ = 0;
  double data_wait_at_log_ = 0;  // data_wait_seconds() at the last log line
  at::Tensor last_grad_norm_;
  std::map<std::string, at::Tensor> extra_sums_;
};

}  // namespace vlm::train
