#include "train/local_ranks.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <string_view>
#include <thread>

#include "core/error.h"

extern char** environ;

namespace vlm::train {
namespace {

std::atomic<int> g_forward_signal{0};
void record_signal(int sig) { g_forward_signal.store(sig); }

constexpr std::string_view kTorchrunVariables[] = {"RANK=", "WORLD_SIZE=", "LOCAL_RANK=", "MASTER_ADDR=",
                                                   "MASTER_PORT="};

// This environment without torchrun's variables, the dropped prefixes and the names `extra`
// sets; then `extra`.
std::vector<std::string> base_environment(const LocalRanksOptions& o) {
  auto dropped = [&](std::string_view kv) {
    auto starts = [&](std::string_view prefix) { return kv.substr(0, prefix.size()) == prefix; };
    if (std::any_of(std::begin(kTorchrunVariables), std::end(kTorchrunVariables), starts)) return true;
    for (const std::string& p : o.drop_env_prefixes)
      if (starts(p)) return true;
    for (const std::string& kv_extra : o.env)
      if (starts(std::string_view(kv_extra).substr(0, kv_extra.find('=') + 1))) return true;
    return false;
  };
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e)
    if (!dropped(*e)) env.emplace_back(*e);
  env.insert(env.end(), o.env.begin(), o.env.end());
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  for (auto& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

// Forks and execs one rank; -1 when fork failed. Everything the child needs is built before the
// fork (only async-signal-safe calls happen in it).
pid_t start_rank(const LocalRanksOptions& o, int rank, std::vector<std::string> env, int port) {
  env.push_back(vlm::str("RANK=", rank));
  env.push_back(vlm::str("LOCAL_RANK=", rank));
  env.push_back(vlm::str("WORLD_SIZE=", o.world));
  env.push_back(vlm::str("MASTER_ADDR=127.0.0.1"));
  env.push_back(vlm::str("MASTER_PORT=", port));
  std::vector<std::string> argv_s{o.exe};
  argv_s.insert(argv_s.end(), o.args.begin(), o.args.end());
  std::vector<char*> envp = pointers(env), argv = pointers(argv_s);
  const std::string log = static_cast<size_t>(rank) < o.log_paths.size() ? o.log_paths[static_cast<size_t>(rank)] : "";
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!log.empty()) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || ::dup2(fd, STDOUT_FILENO) < 0 || ::dup2(fd, STDERR_FILENO) < 0) ::_exit(127);
    }
    ::execve(o.exe.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

int exit_status(int raw) { return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw); }

}  // namespace

int free_local_port() {
  int low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  const int first = 10000, span = std::max(1000, low - first);
  static std::atomic<unsigned> calls{0};
  const unsigned start = static_cast<unsigned>(::getpid()) * 7919u + 104729u * calls++;
  for (unsigned i = 0; i < 200; ++i) {
    const int port = first + static_cast<int>((start + i * 37u) % static_cast<unsigned>(span));
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
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

std::vector<int> run_local_ranks(const LocalRanksOptions& o) {
  const int port = free_local_port();
  const std::vector<std::string> env = base_environment(o);
  // SIGINT / SIGTERM while the ranks run reach them too (the ranks checkpoint and stop); this
  // process waits for them instead of dying first.
  g_forward_signal.store(0);
  auto old_int = std::signal(SIGINT, record_signal);
  auto old_term = std::signal(SIGTERM, record_signal);
  std::vector<pid_t> pids;
  std::vector<int> status(static_cast<size_t>(o.world), -1);
  for (int rank = 0; rank < o.world; ++rank) {
    pids.push_back(start_rank(o, rank, env, port));
    if (pids.back() < 0) status[static_cast<size_t>(rank)] = 127;
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  bool forwarded = false;
  Clock::time_point stopping{};  // when the others were asked to stop after a failure
  auto signal_running = [&](int sig) {
    for (size_t i = 0; i < pids.size(); ++i)
      if (status[i] == -1) ::kill(pids[i], sig);
  };
  while (std::count(status.begin(), status.end(), -1) > 0) {
    for (size_t i = 0; i < pids.size(); ++i) {
      int raw = 0;
      if (status[i] == -1 && ::waitpid(pids[i], &raw, WNOHANG) == pids[i]) status[i] = exit_status(raw);
    }
    const auto now = Clock::now();
    const bool failed = std::any_of(status.begin(), status.end(), [](int s) { return s > 0; });
    if (const int sig = g_forward_signal.load(); sig != 0 && !forwarded) {
      signal_running(sig);
      forwarded = true;
    }
    if (failed && stopping == Clock::time_point{}) {
      signal_running(SIGTERM);
      stopping = now;
    }
    const bool past_grace = stopping != Clock::time_point{} && now - stopping > o.stop_grace;
    const bool past_deadline = o.deadline.count() > 0 && now - start > o.deadline;
    if (past_grace || past_deadline) {
      for (size_t i = 0; i < pids.size(); ++i) {
        if (status[i] != -1) continue;
        ::kill(pids[i], SIGKILL);
        int raw = 0;
        ::waitpid(pids[i], &raw, 0);
        status[i] = past_deadline ? 124 : exit_status(raw);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  return status;
}

}  // namespace vlm::train
