// train/local_ranks.h: each rank gets torchrun's variables (its own, replacing inherited ones)
// and the extra ones, logs where asked, its exit status; a failing rank stops the others, the
// deadline kills them, a signal to the launcher reaches the ranks. The ranks are /bin/sh scripts.
#include "train/local_ranks.h"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "test_util.h"

namespace vlm::train {
namespace {

namespace fs = std::filesystem;

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

LocalRanksOptions shell(const std::string& script, int world, const std::string& log_dir) {
  LocalRanksOptions o;
  o.exe = "/bin/sh";
  o.args = {"-c", script};
  o.world = world;
  for (int r = 0; r < world; ++r) o.log_paths.push_back(log_dir + "/rank" + std::to_string(r) + ".log");
  return o;
}

TEST(LocalRanks, EachRankSeesItsOwnTorchrunVariablesAndTheExtraOnes) {
  test::TempDir dir;
  ::setenv("RANK", "7", 1);  // a stale torchrun variable must not reach the ranks
  ::setenv("VLM_TEST_DROPPED", "x", 1);
  ::setenv("VLM_TEST_REPLACED", "old", 1);
  auto o = shell("echo \"$RANK $LOCAL_RANK $WORLD_SIZE $MASTER_ADDR $MASTER_PORT ${VLM_TEST_DROPPED:-none} "
                 "$VLM_TEST_REPLACED\"",
                 3, dir.path());
  o.env = {"VLM_TEST_REPLACED=new"};
  o.drop_env_prefixes = {"VLM_TEST_DROP"};
  const std::vector<int> status = run_local_ranks(o);
  ::unsetenv("RANK");
  ::unsetenv("VLM_TEST_DROPPED");
  ::unsetenv("VLM_TEST_REPLACED");
  ASSERT_EQ(status, (std::vector<int>{0, 0, 0}));
  std::string port;
  for (int r = 0; r < 3; ++r) {
    std::istringstream line(read(o.log_paths[static_cast<size_t>(r)]));
    int rank = -1, local = -1, world = -1;
    std::string addr, rank_port, dropped, replaced;
    line >> rank >> local >> world >> addr >> rank_port >> dropped >> replaced;
    EXPECT_EQ(rank, r);
    EXPECT_EQ(local, r);
    EXPECT_EQ(world, 3);
    EXPECT_EQ(addr, "127.0.0.1");
    EXPECT_GT(std::atoi(rank_port.c_str()), 0);
    if (r > 0) {
      EXPECT_EQ(rank_port, port) << "every rank must meet on one port";
    }
    port = rank_port;
    EXPECT_EQ(dropped, "none");
    EXPECT_EQ(replaced, "new");
  }
}

TEST(LocalRanks, ReportsEachExitStatusAndAProgramThatCannotStart) {
  test::TempDir dir;
  EXPECT_EQ(run_local_ranks(shell("exit $((RANK + 0))", 1, dir.path())), (std::vector<int>{0}));
  EXPECT_EQ(run_local_ranks(shell("kill -KILL $$", 1, dir.path())), (std::vector<int>{128 + SIGKILL}));
  auto missing = shell("", 2, dir.path());
  missing.exe = dir.path() + "/no-such-program";
  EXPECT_EQ(run_local_ranks(missing), (std::vector<int>{127, 127}));
}

TEST(LocalRanks, AFailingRankStopsTheOthers) {
  test::TempDir dir;
  // Rank 1 fails once rank 0 is ready; rank 0 would wait 60 s (as a rank blocked in a collective
  // would wait for its dead peer): it is sent SIGTERM, which its trap turns into exit status 42.
  const std::string fail_when_ready =
      "if [ $RANK = 1 ]; then while [ ! -e " + dir.path() + "/ready ]; do sleep 0.05; done; exit 3; fi; ";
  auto o = shell(fail_when_ready + "trap 'kill $!; exit 42' TERM; touch " + dir.path() + "/ready; sleep 60 & wait",
                 2, dir.path());
  EXPECT_EQ(run_local_ranks(o), (std::vector<int>{42, 3}));
  // One that ignores SIGTERM is killed after the grace period.
  fs::remove(dir.path() + "/ready");
  o = shell(fail_when_ready + "trap '' TERM; touch " + dir.path() + "/ready; exec sleep 60", 2, dir.path());
  o.stop_grace = std::chrono::seconds(1);
  EXPECT_EQ(run_local_ranks(o), (std::vector<int>{128 + SIGKILL, 3}));
}

TEST(LocalRanks, KillsEveryRankAtTheDeadline) {
  test::TempDir dir;
  auto o = shell("exec sleep 60", 2, dir.path());
  o.deadline = std::chrono::seconds(1);
  EXPECT_EQ(run_local_ranks(o), (std::vector<int>{124, 124}));
}

TEST(LocalRanks, ASignalToTheLauncherReachesTheRanksAndTheLauncherWaitsForThem) {
  test::TempDir dir;
  // Each rank says it is ready, then turns SIGTERM into a clean exit 5 (as `vlm train` checkpoints
  // and exits). The launcher is sent SIGTERM once both are ready: it must survive and forward it.
  const std::string ready = dir.path() + "/ready";
  auto o = shell("trap 'kill $!; exit 5' TERM; touch " + ready + "$RANK; sleep 60 & wait", 2, dir.path());
  std::thread sender([&] {
    for (int i = 0; i < 1000 && !(fs::exists(ready + "0") && fs::exists(ready + "1")); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::raise(SIGTERM);
  });
  const auto status = run_local_ranks(o);
  sender.join();
  EXPECT_EQ(status, (std::vector<int>{5, 5}));
}

TEST(LocalRanks, FreePortIsBindableAndBelowTheEphemeralRange) {
  const int port = free_local_port();
  int low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  EXPECT_GE(port, 10000);
  EXPECT_LT(port, std::max(11000, low));
}

}  // namespace
}  // namespace vlm::train
