// Which weights a model path means: a run's best checkpoint, else its export, else its latest
// checkpoint; checkpoints and exports as given; clear errors for everything else.
#include "inference/model_path.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace vlm::inference {
namespace {

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}

void make_checkpoint(const fs::path& dir) {
  for (const char* f : {"manifest.json", "model.safetensors", "config.yaml"}) touch(dir / f);
}

std::string message_of(const std::string& path) {
  try {
    resolve_model_path(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelPath, RunMeansBestThenExportThenLatest) {
  test::TempDir tmp;
  const fs::path run = fs::path(tmp.path()) / "run";
  touch(run / "config.yaml");
  EXPECT_NE(message_of(run.string()).find("without a checkpoint or an export"), std::string::npos);
  make_checkpoint(run / "checkpoints/step-0000004");
  fs::create_directory_symlink("step-0000004", run / "checkpoints/latest");
  auto m = resolve_model_path(run.string());
  EXPECT_EQ(m.kind, WeightsKind::kCheckpoint);
  EXPECT_EQ(fs::path(m.dir).filename(), "step-0000004");  // latest, resolved to its step
  EXPECT_EQ(m.run_dir, fs::weakly_canonical(run).string());
  touch(run / "export/qformer/config.json");
  m = resolve_model_path(run.string());
  EXPECT_EQ(m.kind, WeightsKind::kExport);  // a finished run: its export before its latest checkpoint
  EXPECT_EQ(m.config_path, fs::weakly_canonical(run).string() + "/config.yaml");
  make_checkpoint(run / "checkpoints/step-0000002");
  fs::create_directory_symlink("step-0000002", run / "checkpoints/best");
  m = resolve_model_path(run.string());
  EXPECT_EQ(m.kind, WeightsKind::kCheckpoint);
  EXPECT_EQ(fs::path(m.dir).filename(), "step-0000002");  // best wins
  EXPECT_EQ(m.config_path, m.dir + "/config.yaml");
}

TEST(ModelPath, CheckpointsExportsAndTheirFolders) {
  test::TempDir tmp;
  const fs::path run = fs::path(tmp.path()) / "run";
  touch(run / "config.yaml");
  make_checkpoint(run / "checkpoints/step-0000008");
  fs::create_directory_symlink("step-0000008", run / "checkpoints/latest");
  touch(run / "export/vlm.json");
  EXPECT_EQ(resolve_model_path((run / "checkpoints/step-0000008").string()).kind, WeightsKind::kCheckpoint);
  EXPECT_EQ(fs::path(resolve_model_path((run / "checkpoints").string()).dir).filename(), "step-0000008");
  const auto e = resolve_model_path((run / "export").string());
  EXPECT_EQ(e.kind, WeightsKind::kExport);
  EXPECT_EQ(e.run_dir, fs::weakly_canonical(run).string());
}

TEST(ModelPath, ErrorsSayWhatIsAccepted) {
  test::TempDir tmp;
  const fs::path dir = fs::path(tmp.path());
  EXPECT_NE(message_of((dir / "nope").string()).find("no such file"), std::string::npos);
  touch(dir / "file.txt");
  EXPECT_NE(message_of((dir / "file.txt").string()).find("not a model directory"), std::string::npos);
  fs::create_directories(dir / "empty");
  EXPECT_NE(message_of((dir / "empty").string()).find("is not a trained model"), std::string::npos);
  touch(dir / "torn/manifest.json");
  EXPECT_NE(message_of((dir / "torn").string()).find("incomplete checkpoint"), std::string::npos);
}

}  // namespace
}  // namespace vlm::inference
