// `vlm <command>`: finds the command, parses its flags, runs it; errors become one line on
// stderr and exit status 1 (2 for usage errors).
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <c10/util/Exception.h>

#include "cli/command.h"
#include "core/error.h"
#include "core/runtime.h"

namespace {

// LibTorch's OpenMP threads and OpenBLAS's own pthreads spin against each other unless
// OpenMP waits passively, and libgomp reads that only at load time: set it and re-exec once.
void ensure_launch_environment(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/1);
  execv("/proc/self/exe", argv);  // returns only on failure: carry on as we are
}

void print_help() {
  std::cout << "vlm: train and run small vision-language models\n\nusage: vlm <command> [options]\n\n";
  for (const auto& [name, command] : vlm::cli::commands()) {
    std::cout << "  " << name << std::string(name.size() < 22 ? 22 - name.size() : 1, ' ') << command.summary
              << "\n";
  }
  std::cout << "\n`vlm <command> --help` describes a command's options.\n";
}

void print_command_help(const vlm::cli::Command& command) {
  std::cout << "usage: vlm " << command.name << " " << command.usage << "\n\n" << command.summary << "\n";
  if (!command.flags.empty()) std::cout << "\noptions:\n";
  for (const auto& flag : command.flags) {
    std::string left = flag.name + (flag.value_name.empty() ? "" : " " + flag.value_name);
    std::cout << "  " << left << std::string(left.size() < 26 ? 26 - left.size() : 1, ' ')
              << (flag.required ? "(required) " : "") << flag.help << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  ensure_launch_environment(argv);
  vlm::runtime::keep_freed_memory();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help();
    return args.empty() ? 2 : 0;
  }
  // Two-word commands ("eval retrieval") win over one-word ones.
  const auto& table = vlm::cli::commands();
  auto it = table.end();
  size_t consumed = 0;
  if (args.size() >= 2) {
    it = table.find(args[0] + " " + args[1]);
    consumed = 2;
  }
  if (it == table.end()) {
    it = table.find(args[0]);
    consumed = 1;
  }
  if (it == table.end()) {
    std::cerr << "error: unknown command '" << args[0] << "' (see vlm --help)\n";
    return 2;
  }
  const vlm::cli::Command& command = it->second;
  std::vector<std::string> rest(args.begin() + static_cast<long>(consumed), args.end());
  for (const auto& a : rest) {
    if (a == "--help" || a == "-h") {
      print_command_help(command);
      return 0;
    }
  }
  try {
    vlm::runtime::configure_threads();
    return command.run(vlm::cli::Args(command.flags, rest));
  } catch (const vlm::UsageError& e) {
    std::cerr << "error: " << e.what() << (e.hint().empty() ? "" : " (" + e.hint() + ")") << "\n";
    return 2;
  } catch (const vlm::Error& e) {
    std::cerr << "error: " << e.what() << (e.hint().empty() ? "" : "\nhint: " + e.hint()) << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
