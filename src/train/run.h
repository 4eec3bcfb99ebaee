// Running a training job end to end, as `vlm train` and `vlm demo` do: the run directory
// (resolved config, log, metrics, checkpoints, export), the data-parallel group from
// torchrun-style variables, the stage's Task, and the Trainer.
#pragma once

#include <memory>
#include <string>

#include "config/run_config.h"
#include "train/trainer.h"

namespace vlm::train {

class Distributed;

// The stage's task (stage1 | stage2 | lm) for a validated config.
std::unique_ptr<Task> make_task(const config::RunConfig& config, Distributed* dist);

// Creates or reuses out_dir/name, writes config.yaml and mirrors the log into train.log
// (rank 0 only), builds everything and trains. With resume, continues from the newest complete
// checkpoint of that directory, or from resume_checkpoint (one of its checkpoints) when given.
FitResult run_training(const config::RunConfig& config, bool resume, const std::string& resume_checkpoint = {});

std::string run_dir_of(const config::RunConfig& config);

}  // namespace vlm::train
