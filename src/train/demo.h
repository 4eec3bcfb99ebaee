// `vlm demo`: the whole pipeline from nothing on a CPU in minutes. Synthetic shapes data and
// a tokenizer, stage 1 (ViT + Q-Former from scratch), LM pretraining, stage 2 (frozen LM +
// LoRA), then retrieval, captioning and VQA on unseen scenes, a report and summary.json.
// Every step runs through the same configs, loaders, trainer and exports as the real setup.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace vlm::train {

struct DemoOptions {
  std::string out_dir = "demo-out";
  std::string config_dir;   // holding demo/{stage1,lm,stage2}.yaml; empty = the source tree's configs/
  bool quick = false;       // a small version for tests: fewer scenes and steps
  // Data-parallel processes per training stage (each with 1/processes of every batch and of the
  // threads), started as `train_exe train ...`; 1 = train in this process. A stage whose batch
  // does not divide evenly, or a build without a multi-process backend, trains in this process.
  int processes = 1;
  std::string train_exe;    // the vlm program; needed when processes > 1
};

// What `vlm demo` uses unless told otherwise: 2 processes where this process has at least 2
// intra-op threads (VLM_THREADS, else every core) and the build has a multi-process backend (two 1-thread processes train the demo's
// small models faster than one 2-thread process: docs/demo-experiments.md), else 1.
int default_demo_processes();

// Returns the summary (also written to out_dir/summary.json).
nlohmann::json run_demo(const DemoOptions& options);

}  // namespace vlm::train
