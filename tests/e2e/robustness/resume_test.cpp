// `vlm train --resume` when the run's newest checkpoints are gone or damaged (issue 22, items 1
// and 8): it falls back to the newest checkpoint whose content verifies and says which, keeps the
// metrics rows up to that step, cleans killed writers' leftovers, continues a run from a named
// checkpoint without touching that checkpoint, and refuses what is neither a run nor a checkpoint.
#include <gtest/gtest.h>

#include <signal.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "test_util.h"
#include "tiny_stage1.h"
#include "train/checkpoint.h"
#include "train/demo_data.h"
#include "eval/run_files.h"

namespace fs = std::filesystem;

namespace {

struct TrainedRun {
  vlm::test::TempDir dir;
  vlm::train::DemoData data;
  std::string config, run;
  std::vector<double> losses;  // of the uninterrupted run, steps 1..12

  TrainedRun() {
    data = vlm::test::make_tiny_demo_data(dir.path());
    config = dir.path() + "/stage1.yaml";
    std::ofstream(config) << vlm::test::tiny_stage1_sections(dir.path(), data)
                          << "train: {stage: stage1, steps: 12, batch_size: 16, lr: 1.0e-3, warmup_steps: 2,"
                             " precision: fp32}\n"
                          << "schedule: {log_every: 1, eval_every: 0, eval_batches: 1, save_every: 2,"
                             " keep_checkpoints: 10}\n";
    run = dir.path() + "/runs/r";
    const auto full = vlm::test::run_vlm("train --config " + config + " --set run.name=r");
    EXPECT_EQ(full.status, 0) << full.output;
    losses = train_losses();
  }

  std::vector<double> train_losses() const {
    std::vector<double> out;
    for (const auto& row : vlm::eval::run_files::read_metrics(run + "/metrics.jsonl"))
      if (row.values.count("train/loss")) out.push_back(row.values.at("train/loss"));
    return out;
  }
  std::string step(int n) const { return run + "/checkpoints/" + vlm::train::step_dir_name(n); }
};

// Flips every bit of 512 bytes in the middle of `path`: same size, other content.
void damage(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  const auto size = static_cast<std::streamoff>(fs::file_size(path));
  std::string block(512, '\0');
  f.seekg(size / 2);
  f.read(block.data(), 512);
  for (char& c : block) c = static_cast<char>(~c);
  f.seekp(size / 2);
  f.write(block.data(), f.gcount() > 0 ? f.gcount() : 0);
}

// A PID no process has (the highest free one below pid_max's usual range).
long dead_pid() {
  for (long pid = 4194000; pid > 1000; --pid)
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return pid;
  return 999999;
}

std::string read(const std::string& path) { return vlm::io::read_file(path); }

}  // namespace

TEST(Resume, FallsBackToTheNewestCompleteCheckpointAndKeepsItsMetrics) {
  TrainedRun r;
  ASSERT_EQ(r.losses.size(), 12u);
  // The newest checkpoint damaged inside (same size), the one before it gone, a killed
  // writer's temporary directory left behind, and a marker row the resume must keep.
  damage(r.step(12) + "/optimizer.pt");
  fs::remove_all(r.step(10));
  const std::string leftover = r.run + "/checkpoints/step-0000014.tmp-" + std::to_string(dead_pid()) + "-0";
  fs::create_directories(leftover);
  std::ofstream(leftover + "/model.safetensors") << "half";
  std::ofstream(r.run + "/metrics.jsonl", std::ios::app) << "{\"step\": 8, \"marker\": 1}\n";

  const auto resumed = vlm::test::run_vlm("train --resume " + r.run);
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("step-0000012: corrupt checkpoint: optimizer.pt has CRC32C"), std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from the newest complete checkpoint " + fs::canonical(r.step(8)).string()),
            std::string::npos)
      << resumed.output;
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_NE(read(r.run + "/metrics.jsonl").find("\"marker\""), std::string::npos) << "rows up to step 8 were dropped";
  const auto got = r.train_losses();
  ASSERT_EQ(got.size(), 12u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_DOUBLE_EQ(got[i], r.losses[i]) << "step " << i + 1;
  EXPECT_EQ(fs::read_symlink(r.run + "/checkpoints/latest").filename(), "step-0000012");
}

TEST(Resume, FromANamedCheckpointContinuesItsRunAndLeavesTheCheckpointAlone) {
  TrainedRun r;
  ASSERT_EQ(r.losses.size(), 12u);
  const std::string manifest = read(r.step(6) + "/manifest.json"), config = read(r.step(6) + "/config.yaml");
  const auto resumed = vlm::test::run_vlm("train --resume " + r.step(6));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from " + fs::canonical(r.step(6)).string()), std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("run: " + r.run), std::string::npos) << resumed.output;
  EXPECT_FALSE(fs::exists(r.step(6) + "/checkpoints"));
  EXPECT_FALSE(fs::exists(r.step(6) + "/metrics.jsonl"));
  EXPECT_EQ(read(r.step(6) + "/manifest.json"), manifest);
  EXPECT_EQ(read(r.step(6) + "/config.yaml"), config);
  const auto got = r.train_losses();
  ASSERT_EQ(got.size(), 12u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_DOUBLE_EQ(got[i], r.losses[i]) << "step " << i + 1;
  // The run still resumes afterwards (its checkpoints verify).
  const auto again = vlm::test::run_vlm("train --resume " + r.run);
  EXPECT_EQ(again.status, 0) << again.output;

  // Neither a run nor a checkpoint of one: refused, naming the path.
  const auto file = vlm::test::run_vlm("train --resume " + r.step(6) + "/model.safetensors");
  EXPECT_EQ(file.status, 1);
  EXPECT_NE(file.output.find("neither a run directory"), std::string::npos) << file.output;
  const std::string copy = r.dir.path() + "/copied-step";
  fs::copy(r.step(6), copy, fs::copy_options::recursive);
  const auto outside = vlm::test::run_vlm("train --resume " + copy);
  EXPECT_EQ(outside.status, 1);
  EXPECT_NE(outside.output.find(copy + ": is a checkpoint outside a run's checkpoints/ folder"), std::string::npos)
      << outside.output;
  EXPECT_FALSE(fs::exists(copy + "/checkpoints"));
}

TEST(Resume, NothingCompleteIsRefusedAndTheMetricsStay) {
  TrainedRun r;
  ASSERT_EQ(r.losses.size(), 12u);
  for (const auto& e : fs::directory_iterator(r.run + "/checkpoints"))
    if (!fs::is_symlink(e.path())) fs::remove(e.path() / "state.json");
  const std::string metrics = read(r.run + "/metrics.jsonl");
  const auto resumed = vlm::test::run_vlm("train --resume " + r.run);
  EXPECT_EQ(resumed.status, 1) << resumed.output;
  EXPECT_NE(resumed.output.find("no complete checkpoint in " + r.run + "/checkpoints"), std::string::npos)
      << resumed.output;
  EXPECT_EQ(read(r.run + "/metrics.jsonl"), metrics);
}
