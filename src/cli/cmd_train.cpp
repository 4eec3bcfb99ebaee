// `vlm train --config FILE | --resume RUN_DIR [--set KEY=VALUE ...]`: trains the stage the
// config names. With --resume the run's saved config.yaml is used (overrides still apply).
#include <filesystem>
#include <iostream>

#include "cli/command.h"
#include "config/run_config.h"
#include "core/error.h"
#include "train/checkpoint.h"
#include "train/run.h"

namespace {

int run_train(const vlm::cli::Args& args) {
  const auto resume = args.maybe("--resume");
  const auto config_path = args.maybe("--config");
  if (!resume && !config_path) throw vlm::UsageError("--config FILE is required (or --resume RUN_DIR)");
  if (resume && config_path) {
    throw vlm::UsageError("--resume continues " + *resume + " with the config.yaml saved in it; --config " +
                          *config_path + " would start another run: give one of them (change a value of the "
                          "resumed run with --set KEY=VALUE)");
  }
  // RUN, RUN/checkpoints or RUN/checkpoints/step-N: the run continues in RUN, never inside a checkpoint.
  const vlm::train::ResumeTarget target =
      resume ? vlm::train::Checkpointer::resolve_resume(*resume) : vlm::train::ResumeTarget{};
  const std::string path = config_path ? *config_path : target.run_dir + "/config.yaml";
  auto config = vlm::config::load_run_config(path, args.all("--set"));
  if (resume) {
    // The run directory resumed is the one given, whatever run.out_dir/name the config says.
    const std::filesystem::path dir(target.run_dir);
    config.run.out_dir = dir.has_parent_path() ? dir.parent_path().string() : ".";
    config.run.name = dir.filename().string();
  }
  const auto result = vlm::train::run_training(config, resume.has_value(), target.checkpoint);
  std::cout << "run: " << vlm::train::run_dir_of(config) << "\n";
  return result.interrupted ? 130 : 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "train",
    .usage = "--config FILE | --resume RUN_DIR [--set KEY=VALUE ...]",
    .summary = "train the stage named in the config (stage1, stage2 or lm)",
    .flags = {{"--config", "FILE", "YAML run config (see configs/)"},
              {"--set", "KEY=VALUE", "override a config value, e.g. --set train.lr=3e-4", true},
              {"--resume", "RUN_DIR", "continue the run in RUN_DIR from its newest complete checkpoint (or RUN_DIR/checkpoints/step-N from that one)"}},
    .run = run_train,
});

}  // namespace
