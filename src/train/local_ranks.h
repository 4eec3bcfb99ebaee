// Data parallel on one machine without torchrun: starts one child process per rank with the
// variables torchrun sets (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT),
// waits for all of them, and stops the rest when one fails, as torchrun does, so that no rank
// waits for ever in a collective its dead peer will never join. `vlm demo` trains its stages
// this way; the tests launch their multi-process jobs with it too. Written here because torchrun
// is Python's (python3-torch), which `vlm demo` must not need, and no C or C++ library on Debian
// starts c10d ranks; it is fork/exec and waitpid.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace vlm::train {

struct LocalRanksOptions {
  std::string exe;                 // the program every rank runs
  std::vector<std::string> args;   // its arguments (argv[1...])
  int world = 2;
  // Per rank: where its stdout and stderr go ("" = this process's). Empty = all inherit.
  std::vector<std::string> log_paths;
  // "NAME=value" entries added to this process's environment, replacing a variable of that name.
  std::vector<std::string> env;
  // Variables of this environment that the ranks do not inherit, by name prefix (torchrun's own
  // are always dropped and set anew).
  std::vector<std::string> drop_env_prefixes;
  std::chrono::seconds deadline{0};     // every rank killed after this long; 0 = no deadline
  std::chrono::seconds stop_grace{30};  // after one rank fails: SIGTERM the others, SIGKILL after this
};

// Each rank's exit status: its exit code, 128 + N when a signal N ended it, 124 when it was
// killed at the deadline, 127 when it could not be started.
std::vector<int> run_local_ranks(const LocalRanksOptions& options);

// A TCP port on 127.0.0.1 free now that nothing else is likely to take before a rank binds it
// (0 when none was found): drawn from below the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range), whose ports any outgoing connection or `bind port 0`
// can take between this check and the bind, at a place that differs by process and call.
int free_local_port();

}  // namespace vlm::train
