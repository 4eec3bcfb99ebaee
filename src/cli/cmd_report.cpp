// `vlm report RUN_DIR`: rebuilds RUN_DIR/report.html (and RUN_DIR/plots/*.png) from the run's files.
#include <iostream>

#include "cli/command.h"
#include "eval/report.h"

namespace {

int run_report(const vlm::cli::Args& args) {
  vlm::eval::ReportOptions options;
  options.max_gallery = static_cast<size_t>(args.get_int("--max-gallery", 200));
  options.write_plots = !args.has("--no-plots");
  std::cout << vlm::eval::write_report(args.positional(0, "RUN_DIR"), options) << "\n";
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "report",
    .usage = "RUN_DIR [--max-gallery N] [--no-plots]",
    .summary = "write RUN_DIR/report.html: one self-contained page with curves, metrics, grid and captions",
    .flags = {{"--max-gallery", "N", "show at most N generated captions (default 200)"},
              {"--no-plots", "", "do not write RUN_DIR/plots/*.png"}},
    .run = run_report,
});

}  // namespace
