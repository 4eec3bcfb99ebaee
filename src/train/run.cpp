#include "train/run.h"

#include <torch/torch.h>

#include <filesystem>

#include "core/log.h"
#include "core/runtime.h"
#include "io/atomic_file.h"
#include "train/distributed.h"
#include "train/lm_task.h"
#include "train/stage1_task.h"
#include "train/stage2_task.h"

namespace fs = std::filesystem;

namespace vlm::train {

std::unique_ptr<Task> make_task(const config::RunConfig& config, Distributed* dist) {
  if (config.train.stage == "stage1") return std::make_unique<Stage1Task>(config, dist);
  if (config.train.stage == "stage2") return std::make_unique<Stage2Task>(config, dist);
  return std::make_unique<LmTask>(config, dist);
}

std::string run_dir_of(const config::RunConfig& config) { return config.run.out_dir + "/" + config.run.name; }

FitResult run_training(const config::RunConfig& config, bool resume, const std::string& resume_checkpoint) {
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
  if (env.rank == 0) {
    fs::create_directories(run_dir);
    io::write_file_atomic(run_dir + "/config.yaml", config::to_yaml(config));
    log::set_file(run_dir + "/train.log");
  }
  log::info("run ", run_dir, " (", config.train.stage, "), ", runtime::describe_build(),
            dist ? str(", rank ", env.rank, "/", env.world_size, " over ", dist->backend_name()) : std::string());
  auto task = make_task(config, dist.get());
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
