#include "train/run.h"

#include <torch/torch.h>

#include <filesystem>

#include "core/log.h"
#include "core/runtime.h"
#include "io/atomic_file.h"
#include "core/error.h"
#include "train/distributed.h"
#include "train/schedule.h"
#include "train/lm_task.h"
#include "train/stage1_task.h"
#include "train/stage2_task.h"

namespace fs = std::filesystem;

namespace vlm::train {

std::unique_ptr<Task> make_task(const config::RunConfig& config, Distributed* dist) {
  if (config.train.stage == config::Stage::kStage1) return std::make_unique<Stage1Task>(config, dist);
  if (config.train.stage == config::Stage::kStage2) return std::make_unique<Stage2Task>(config, dist);
  return std::make_unique<LmTask>(config, dist);
}

std::string run_dir_of(const config::RunConfig& config) { return config.run.out_dir + "/" + config.run.name; }

namespace {

// train.epochs -> train.steps on the training split this task reads (the mean over ranks, so
// every rank takes the same number of steps).
void derive_steps(config::RunConfig& config, const Task& task, const Distributed* dist) {
  if (config.train.steps > 0) {
    if (config.train.epochs > 0) log::info("train.steps ", config.train.steps, " given: train.epochs ignored");
    return;
  }
  double samples = static_cast<double>(task.train_samples());
  if (dist != nullptr && dist->enabled()) samples = dist->all_reduce_mean(samples);
  config.train.steps =
      steps_for_epochs(config.train.epochs, samples, config.train.batch_size, config.train.grad_accum);
  log::info("train.epochs ", config.train.epochs, ": ", config.train.steps, " steps (", samples,
            " training samples per rank, batch ", config.train.batch_size, " x ", config.train.grad_accum,
            " accumulated)");
  if (config.train.warmup_steps > config.train.steps) {
    throw ConfigError("train.warmup_steps", str("is ", config.train.warmup_steps, ", more than the ",
                                                config.train.steps, " steps of train.epochs ", config.train.epochs));
  }
}

}  // namespace

FitResult run_training(const config::RunConfig& given, bool resume, const std::string& resume_checkpoint) {
  config::RunConfig config = given;
  config::make_paths_absolute(config);
  const DistEnv env = dist_env_from_environment();
  const std::string run_dir = run_dir_of(config);
  std::error_code ec;
  if (!resume && !fs::is_empty(run_dir + "/checkpoints", ec) && !ec) {
    throw Error("run directory " + run_dir + " already holds checkpoints",
                "continue it with --resume " + run_dir + ", or choose another run.name");
  }
  if (config.run.threads > 0) runtime::configure_threads(static_cast<int>(config.run.threads));
  if (config.run.deterministic) at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
  runtime::seed_everything(static_cast<uint64_t>(config.run.seed) + static_cast<uint64_t>(env.rank));
  const c10::Device device = runtime::parse_device(config.run.device);
  std::unique_ptr<Distributed> dist;
  if (env.world_size > 1) dist = std::make_unique<Distributed>(env, device.is_cuda());
  // A start that fails (a missing model folder, unreadable data) leaves no run directory behind.
  const bool created = env.rank == 0 && !fs::exists(run_dir);
  if (env.rank == 0) {
    fs::create_directories(run_dir);
    log::set_file(run_dir + "/train.log");
  }
  std::unique_ptr<Task> task;
  try {
    log::info("run ", run_dir, " (", config.train.stage, "), ", runtime::describe_build(),
              dist ? str(", rank ", env.rank, "/", env.world_size, " over ", dist->backend_name()) : std::string());
    task = make_task(config, dist.get());
    derive_steps(config, *task, dist.get());
  } catch (...) {
    log::set_file("");
    if (created) fs::remove_all(run_dir);
    throw;
  }
  if (env.rank == 0) io::write_file_atomic(run_dir + "/config.yaml", config::to_yaml(config));
  if (dist) {
    // Every rank seeded its generator with seed + rank and drew its own random weights (a new
    // Q-Former, adapter, LoRA A): rank 0's become everyone's, as DistributedDataParallel does.
    std::vector<at::Tensor> state = task->module().parameters();
    for (const auto& b : task->module().buffers()) state.push_back(b);
    dist->broadcast_parameters(state);
  }
  Trainer trainer(config, run_dir, *task, dist.get());
  if (!resume_checkpoint.empty()) trainer.set_resume_checkpoint(resume_checkpoint);
  Trainer::install_signal_handlers();
  FitResult result = trainer.fit();
  log::info("finished at step ", result.steps, result.interrupted ? " (interrupted)" : "",
            "; latest checkpoint ", result.last_checkpoint);
  log::set_file("");
  return result;
}

}  // namespace vlm::train
