// torchrun for tests: train/local_ranks.h's launcher with each rank's stdout and stderr in its
// own log, read back, and a deadline.
#pragma once

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "train/local_ranks.h"

namespace vlm::test {

inline int free_port() { return vlm::train::free_local_port(); }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct RankResult {
  int status = -1;  // exit status; 124 when killed at the deadline, 128 + N when signal N ended it
  std::string log;  // its stdout and stderr
};

// Runs `exe args...` as ranks 0..world-1 of one job (this environment minus torchrun's and
// gtest's variables, with `extra_env` "NAME=value" entries added or replacing theirs), logs in
// log_prefix + "rankN.log".
inline std::vector<RankResult> launch_ranks(const std::string& exe, const std::vector<std::string>& args, int world,
                                            const std::string& log_prefix,
                                            const std::vector<std::string>& extra_env = {},
                                            std::chrono::seconds deadline = std::chrono::seconds(300)) {
  vlm::train::LocalRanksOptions options;
  options.exe = exe;
  options.args = args;
  options.world = world;
  for (int rank = 0; rank < world; ++rank) options.log_paths.push_back(log_prefix + "rank" + std::to_string(rank) + ".log");
  options.env = extra_env;
  options.drop_env_prefixes = {"GTEST_"};
  options.deadline = deadline;
  const std::vector<int> status = vlm::train::run_local_ranks(options);
  std::vector<RankResult> results(status.size());
  for (size_t i = 0; i < status.size(); ++i) results[i] = {status[i], read_text(options.log_paths[i])};
  return results;
}

}  // namespace vlm::test
