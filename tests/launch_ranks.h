// torchrun for tests: starts one process per rank with RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR=127.0.0.1 and MASTER_PORT (a free port) set, each writing stdout and stderr to
// its own log, and waits for all of them with a deadline.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace vlm::test {

// A TCP port on 127.0.0.1 that is free now and that nothing else is likely to take before the
// caller's process binds it (0 when none could be found). A port the kernel hands out for `bind
// port 0` or an outgoing connection comes from /proc/sys/net/ipv4/ip_local_port_range and can be
// taken again by any other test in the moment between this check and the rank's bind, so the port
// is drawn from below that range, at a place that differs by process and by call.
inline int free_port() {
  int low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  const int first = 10000, span = std::max(1000, low - first);
  static int calls = 0;
  const int start = static_cast<int>((static_cast<unsigned>(::getpid()) * 7919u + 104729u * calls++) % span);
  for (int i = 0; i < 200; ++i) {
    const int port = first + (start + i * 37) % span;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (ok) return port;
  }
  return 0;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct RankResult {
  int status = -1;  // exit status; 124 when killed at the deadline, 128 when killed by a signal
  std::string log;  // its stdout and stderr
};

// Runs `exe args...` as ranks 0..world-1 of one job (this environment minus torchrun's and
// gtest's variables, with `extra_env` "NAME=value" entries added or replacing theirs), logs in
// log_prefix + "rankN.log".
inline std::vector<RankResult> launch_ranks(const std::string& exe, const std::vector<std::string>& args, int world,
                                            const std::string& log_prefix,
                                            const std::vector<std::string>& extra_env = {},
                                            std::chrono::seconds deadline = std::chrono::seconds(300)) {
  const int port = free_port();
  std::vector<std::string> base;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    bool drop = false;
    for (const char* name : {"RANK=", "WORLD_SIZE=", "LOCAL_RANK=", "MASTER_ADDR=", "MASTER_PORT=", "GTEST_"}) {
      drop = drop || kv.rfind(name, 0) == 0;
    }
    for (const std::string& extra : extra_env) drop = drop || kv.rfind(extra.substr(0, extra.find('=') + 1), 0) == 0;
    if (!drop) base.push_back(kv);
  }
  base.insert(base.end(), extra_env.begin(), extra_env.end());
  std::vector<pid_t> pids;
  std::vector<std::string> logs;
  for (int rank = 0; rank < world; ++rank) {
    std::vector<std::string> env = base;
    env.push_back("RANK=" + std::to_string(rank));
    env.push_back("LOCAL_RANK=" + std::to_string(rank));
    env.push_back("WORLD_SIZE=" + std::to_string(world));
    env.push_back("MASTER_ADDR=127.0.0.1");
    env.push_back("MASTER_PORT=" + std::to_string(port));
    std::vector<char*> envp;
    for (auto& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_s{exe};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    logs.push_back(log_prefix + "rank" + std::to_string(rank) + ".log");
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::FILE* out = std::freopen(logs.back().c_str(), "w", stdout);
      if (out == nullptr || ::dup2(::fileno(stdout), STDERR_FILENO) < 0) ::_exit(126);
      ::execve(exe.c_str(), argv.data(), envp.data());
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  std::vector<RankResult> results(pids.size());
  const auto until = std::chrono::steady_clock::now() + deadline;
  size_t done = 0;
  while (done < pids.size()) {
    for (size_t i = 0; i < pids.size(); ++i) {
      if (results[i].status != -1) continue;
      int raw = 0;
      if (pids[i] <= 0) {
        results[i].status = 127;
        ++done;
      } else if (::waitpid(pids[i], &raw, WNOHANG) == pids[i]) {
        results[i].status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128;
        ++done;
      } else if (std::chrono::steady_clock::now() > until) {
        ::kill(pids[i], SIGKILL);
        ::waitpid(pids[i], &raw, 0);
        results[i].status = 124;
        ++done;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (size_t i = 0; i < pids.size(); ++i) results[i].log = read_text(logs[i]);
  return results;
}

}  // namespace vlm::test
