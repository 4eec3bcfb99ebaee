// `vlm train` end to end on a tiny synthetic dataset: exact resume after SIGKILL, SIGTERM
// writing a complete checkpoint that resumes exactly, and config errors refused before any work starts.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "eval/run_files.h"
#include "test_util.h"
#include "tiny_stage1.h"
#include "train/checkpoint.h"
#include "train/demo_data.h"

namespace fs = std::filesystem;

namespace {

struct Fixture {
  vlm::test::TempDir dir;
  vlm::train::DemoData data;
  std::string config;

  Fixture() {
    data = vlm::test::make_tiny_demo_data(dir.path());
    config = dir.path() + "/stage1.yaml";
    std::ofstream(config) << vlm::test::tiny_stage1_sections(dir.path(), data)
                          << "train: {stage: stage1, steps: 12, batch_size: 16, lr: 1.0e-3, warmup_steps: 2,"
                             " precision: fp32, learn_temperature: true}\n"
                          << "schedule: {log_every: 1, eval_every: 6, eval_batches: 1, save_every: 2}\n";
  }
};

std::vector<double> train_losses(const std::string& run_dir) {
  std::vector<double> out;
  for (const auto& row : vlm::eval::run_files::read_metrics(run_dir + "/metrics.jsonl")) {
    if (row.values.count("train/loss")) out.push_back(row.values.at("train/loss"));
  }
  return out;
}

// Starts `vlm ARGS...` as a child process with its output discarded.
pid_t spawn_vlm(const std::vector<std::string>& args) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv = {const_cast<char*>(VLM_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    ::execv(VLM_BINARY, argv.data());
    ::_exit(127);
  }
  return pid;
}

bool wait_for(const std::string& path, pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(path)) return true;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return fs::exists(path);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace

TEST(TrainCli, ResumeAfterSigkillLogsTheSameLosses) {
  Fixture f;
  const auto full = vlm::test::run_vlm("train --config " + f.config + " --set run.name=full");
  ASSERT_EQ(full.status, 0) << full.output;
  const auto expected = train_losses(f.dir.path() + "/runs/full");
  ASSERT_EQ(expected.size(), 12u);

  const std::string killed = f.dir.path() + "/runs/killed";
  const pid_t pid = spawn_vlm({"train", "--config", f.config, "--set", "run.name=killed"});
  ASSERT_TRUE(wait_for(killed + "/checkpoints/step-0000006", pid, std::chrono::seconds(120)));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";

  const auto resumed = vlm::test::run_vlm("train --resume " + killed);
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from"), std::string::npos) << resumed.output;
  const auto got = train_losses(killed);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_DOUBLE_EQ(got[i], expected[i]) << "step " << i + 1;
  EXPECT_TRUE(fs::exists(killed + "/export/qformer/model.safetensors"));
}

TEST(TrainCli, SigtermCheckpointIsCompleteAndResumesWithTheSameLosses) {
  // Between saves (save_every 0: only the last step would save), SIGTERM must write a complete
  // checkpoint of the step it stopped at, from which the run ends exactly as one never stopped.
  Fixture f;
  const std::vector<std::string> steps = {"--set", "train.steps=60", "--set", "schedule.save_every=0"};
  auto args = [&](const std::string& name) {
    std::vector<std::string> a = {"train", "--config", f.config, "--set", "run.name=" + name};
    a.insert(a.end(), steps.begin(), steps.end());
    return a;
  };
  const std::string run = f.dir.path() + "/runs/term";
  const pid_t pid = spawn_vlm(args("term"));
  ASSERT_TRUE(wait_for(run + "/metrics.jsonl", pid, std::chrono::seconds(120)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 130) << "the run finished before SIGTERM arrived";
  const std::string latest = run + "/checkpoints/latest";
  ASSERT_TRUE(fs::exists(latest + "/manifest.json"));
  EXPECT_NO_THROW(vlm::train::Checkpointer::verify(fs::canonical(latest).string()));
  const auto stopped = train_losses(run);
  ASSERT_LT(stopped.size(), 60u) << "SIGTERM after the last step proves nothing";
  EXPECT_EQ(fs::canonical(latest).filename().string(), vlm::train::step_dir_name(static_cast<int64_t>(stopped.size())));

  const auto resumed = vlm::test::run_vlm("train --resume " + run);
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from"), std::string::npos) << resumed.output;
  const std::vector<std::string> full_args = args("full");
  std::string full_cmd;
  for (const auto& a : full_args) full_cmd += " " + a;
  const auto full = vlm::test::run_vlm(full_cmd);
  ASSERT_EQ(full.status, 0) << full.output;
  const auto expected = train_losses(f.dir.path() + "/runs/full");
  const auto got = train_losses(run);
  ASSERT_EQ(expected.size(), 60u);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_DOUBLE_EQ(got[i], expected[i]) << "step " << i + 1;
}

TEST(TrainCli, ConfigErrorIsRefusedBeforeTrainingStarts) {
  Fixture f;
  const auto r = vlm::test::run_vlm("train --config " + f.config + " --set run.name=bad --set train.lr=-1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("config key 'train.lr': must be > 0, got -1"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(f.dir.path() + "/runs/bad"));
  const auto unknown = vlm::test::run_vlm("train --config " + f.config + " --set train.bach_size=4");
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.output.find("config key 'train.bach_size': unknown key"), std::string::npos) << unknown.output;
}
