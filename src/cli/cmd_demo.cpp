// `vlm demo [--out DIR]`: trains the whole pipeline from scratch on synthetic shapes and
// prints where the results are.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.h"
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
    .usage = "[--out DIR] [--quick]",
    .summary = "train the whole pipeline from scratch on synthetic shapes (CPU, minutes) and report",
    .flags = {{"--out", "DIR", "where data, runs, report and summary.json go (default demo-out)"},
              {"--configs", "DIR", "folder with demo/{stage1,lm,stage2}.yaml (default: the repository's configs/)"},
              {"--quick", "", "a small, fast version (for tests): fewer scenes and steps"}},
    .run = run_demo_command,
});

}  // namespace
