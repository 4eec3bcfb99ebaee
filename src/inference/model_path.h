// Which weights a trained-model path means (DESIGN: "a checkpoint directory is a model"). Every
// command that reads a trained model takes a run directory, its export/, or any checkpoint
// (checkpoints/best, latest, step-N); this file turns such a path into the directory to read and
// the run config it was trained with.
#pragma once

#include <optional>
#include <string>

#include "config/run_config.h"

namespace vlm::inference {

enum class WeightsKind {
  kExport,      // export/: HF-layout folders written at the end of training (or an export copied elsewhere)
  kCheckpoint,  // checkpoints/step-N: the trainable tensors (model.safetensors) + the resolved config.yaml
};

struct ModelPath {
  std::string given;        // the path as the user wrote it
  std::string dir;          // the export or checkpoint directory to read
  WeightsKind kind = WeightsKind::kExport;
  std::string run_dir;      // the run it belongs to; empty for an export outside a run
  std::string config_path;  // the config.yaml it was trained with; empty when none is known
  std::string describe() const;  // "runs/x/checkpoints/best (checkpoint step-0000120)"
};

// A run directory means its best checkpoint (lowest validation loss), else its export (the last
// step of a finished run), else its latest checkpoint (an interrupted run). `checkpoints/` means
// its latest. Throws FileError saying what the path holds and what is accepted.
ModelPath resolve_model_path(const std::string& path);

// The run config the weights were trained with (config.yaml of the checkpoint or the run), or
// nullopt when none is known (a bare export).
std::optional<config::RunConfig> trained_config(const ModelPath& path);

}  // namespace vlm::inference
