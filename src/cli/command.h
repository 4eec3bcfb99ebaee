// The CLI's command table. Each src/cli/cmd_*.cpp registers its commands from a static
// object, so adding a command touches one file. Parsing is deliberately small: flags are
// declared with a help line, and anything undeclared is a usage error.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vlm::cli {

struct Flag {
  std::string name;         // "--max-new-tokens"
  std::string value_name;   // "N"; empty for a boolean switch
  std::string help;
  bool repeated = false;    // may be given several times (--set a=b --set c=d)
  bool required = false;    // must be given: Args checks it, --help marks it
};

class Args {
 public:
  // Throws UsageError for undeclared flags, missing values or a missing required flag.
  Args(const std::vector<Flag>& flags, const std::vector<std::string>& argv);

  bool has(const std::string& name) const;
  std::string get(const std::string& name, const std::string& fallback = {}) const;
  std::optional<std::string> maybe(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  int64_t get_int(const std::string& name, int64_t fallback) const;
  double get_double(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // The positional argument at `index`, or a usage error naming `what`.
  const std::string& positional(size_t index, const std::string& what) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

struct Command {
  std::string name;      // "train", "eval retrieval"
  std::string usage;     // "--config FILE [--set KEY=VALUE ...]"
  std::string summary;   // one line for `vlm --help`
  std::vector<Flag> flags;
  std::function<int(const Args&)> run;
};

// Registers at static-initialisation time; returns true so it can initialise a static.
bool register_command(Command command);
const std::map<std::string, Command>& commands();

}  // namespace vlm::cli
