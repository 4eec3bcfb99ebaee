// `vlm demo [--out DIR]`: trains the whole pipeline from scratch on synthetic shapes and
// prints where the results are.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "train/demo.h"

namespace {

// A metric as a person reads it: 3 decimals (summary.json keeps every digit).
std::string rounded(const nlohmann::json& value) {
  if (!value.is_number()) return value.dump();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", value.get<double>());
  return buf;
}

int run_demo_command(const vlm::cli::Args& args) {
  vlm::train::DemoOptions options;
  options.out_dir = args.get("--out", "demo-out");
  options.config_dir = args.get("--configs", "");
  options.quick = args.has("--quick");
  const int64_t processes = args.get_int("--processes", vlm::train::default_demo_processes());
  if (processes < 1 || processes > 64) {
    throw vlm::UsageError("--processes must be 1 to 64, not " + std::to_string(processes));
  }
  options.processes = static_cast<int>(processes);
  options.train_exe = "/proc/self/exe";
  const auto summary = vlm::train::run_demo(options);
  const auto& r = summary["retrieval"];
  const auto& c = summary["captions"];
  std::cout << "\nvlm demo finished in " << static_cast<int>(summary["seconds"].get<double>()) << " s\n"
            << "  retrieval on " << r["images"] << " unseen images: image->text R@1 " << rounded(r["i2t"]["R@1"])
            << ", R@5 " << rounded(r["i2t"]["R@5"]) << "; text->image R@1 " << rounded(r["t2i"]["R@1"]) << ", R@5 "
            << rounded(r["t2i"]["R@5"]) << "\n  captions naming every object's colour and shape: "
            << rounded(c["attribute_accuracy"]) << " (scenes with held-out colour-shape pairs: "
            << rounded(c["heldout_combo_attribute_accuracy"]) << ")\n"
            << "  visual question answering, exact answers: " << rounded(summary["vqa"]["accuracy"]) << "\n"
            << "  report:  " << summary["report"].get<std::string>() << "\n"
            << "  summary: " << options.out_dir << "/summary.json\n";
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "demo",
    .usage = "[--out DIR] [--quick] [--processes N]",
    .summary = "train the whole pipeline from scratch on synthetic shapes (CPU, minutes) and report",
    .flags = {{"--out", "DIR", "where data, runs, report and summary.json go (default demo-out)"},
              {"--configs", "DIR", "folder with demo/{stage1,lm,stage2}.yaml (default: the repository's configs/)"},
              {"--quick", "", "a small, fast version (for tests): fewer scenes and steps"},
              {"--processes", "N", "data-parallel processes per training stage, sharing the threads (default 2 "
                                   "when there are 2 or more, else 1)"}},
    .run = run_demo_command,
});

}  // namespace
