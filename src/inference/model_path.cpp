#include "inference/model_path.h"

#include <filesystem>

#include "core/error.h"

namespace fs = std::filesystem;

namespace vlm::inference {
namespace {

bool is_file(const fs::path& p) { return fs::is_regular_file(p); }

bool is_checkpoint(const fs::path& dir) {
  return is_file(dir / "manifest.json") && is_file(dir / "model.safetensors") && is_file(dir / "config.yaml");
}

bool is_export(const fs::path& dir) {
  return is_file(dir / "vlm.json") || is_file(dir / "qformer" / "config.json") || is_file(dir / "stage1.json");
}

// The canonical directory a `best` / `latest` link points at (so messages name step-N).
std::string canonical_string(const fs::path& p) { return fs::weakly_canonical(p).string(); }

ModelPath checkpoint_at(const std::string& given, const fs::path& dir) {
  ModelPath m;
  m.given = given;
  m.dir = canonical_string(dir);
  m.kind = WeightsKind::kCheckpoint;
  m.config_path = m.dir + "/config.yaml";
  const fs::path parent = fs::path(m.dir).parent_path();  // .../checkpoints
  if (parent.filename() == "checkpoints") m.run_dir = parent.parent_path().string();
  return m;
}

ModelPath export_at(const std::string& given, const fs::path& dir) {
  ModelPath m;
  m.given = given;
  m.dir = canonical_string(dir);
  m.kind = WeightsKind::kExport;
  const fs::path run = fs::path(m.dir).parent_path();
  if (fs::path(m.dir).filename() == "export" && is_file(run / "config.yaml")) {
    m.run_dir = run.string();
    m.config_path = (run / "config.yaml").string();
  }
  return m;
}

}  // namespace

std::string ModelPath::describe() const {
  return str(given, " (", kind == WeightsKind::kCheckpoint ? "checkpoint " : "export ", fs::path(dir).filename().string(),
             ")");
}

ModelPath resolve_model_path(const std::string& given) {
  const fs::path path(given);
  if (!fs::exists(path)) throw FileError(given, "no such file or directory");
  if (!fs::is_directory(path)) {
    throw FileError(given, "is a file, not a model directory",
                    "pass a run directory, its export/, or a checkpoint such as RUN/checkpoints/best");
  }
  if (is_checkpoint(path)) return checkpoint_at(given, path);
  if (is_export(path)) return export_at(given, path);
  if (path.filename() == "checkpoints" || (path.filename().empty() && path.parent_path().filename() == "checkpoints")) {
    if (is_checkpoint(path / "latest")) return checkpoint_at(given, path / "latest");
    throw FileError(given, "holds no complete checkpoint (no latest/)");
  }
  if (is_file(path / "config.yaml")) {  // a run directory
    for (const char* link : {"checkpoints/best"}) {
      if (is_checkpoint(path / link)) return checkpoint_at(given, path / link);
    }
    if (is_export(path / "export")) return export_at(given, path / "export");
    if (is_checkpoint(path / "checkpoints/latest")) return checkpoint_at(given, path / "checkpoints/latest");
    throw FileError(given, "is a run directory without a checkpoint or an export yet",
                    "wait for its first checkpoint (schedule.save_every), or resume it with vlm train --resume");
  }
  if (is_file(path / "manifest.json")) {
    throw FileError(given, "is an incomplete checkpoint (model.safetensors or config.yaml missing)",
                    "use another checkpoint of the run, e.g. its checkpoints/latest");
  }
  throw FileError(given, "is not a trained model",
                  "pass a run directory (config.yaml + checkpoints/ or export/), its export/, or a checkpoint "
                  "such as RUN/checkpoints/best");
}

std::optional<config::RunConfig> trained_config(const ModelPath& path) {
  if (path.config_path.empty()) return std::nullopt;
  return config::load_run_config(path.config_path);
}

}  // namespace vlm::inference
