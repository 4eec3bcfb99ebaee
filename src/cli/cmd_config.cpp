// `vlm config show FILE [--set KEY=VALUE ...]`: prints the resolved, validated config.
#include <iostream>

#include "cli/command.h"
#include "config/run_config.h"

namespace {

int run_config_show(const vlm::cli::Args& args) {
  const auto config = vlm::config::load_run_config(args.positional(0, "config FILE"), args.all("--set"));
  std::cout << vlm::config::to_yaml(config);
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "config show",
    .usage = "FILE [--set KEY=VALUE ...]",
    .summary = "print the resolved config (defaults filled in, overrides applied, validated)",
    .flags = {{"--set", "KEY=VALUE", "override a config value, e.g. --set train.lr=3e-4", true}},
    .run = run_config_show,
});

}  // namespace
