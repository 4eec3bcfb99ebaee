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
};

// Returns the summary (also written to out_dir/summary.json).
nlohmann::json run_demo(const DemoOptions& options);

}  // namespace vlm::train
