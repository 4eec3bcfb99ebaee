#include "cli/command.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace vlm::cli {

namespace {
std::map<std::string, Command>& registry() {
  static std::map<std::string, Command> table;
  return table;
}
}  // namespace

bool register_command(Command command) {
  std::string name = command.name;
  registry().emplace(std::move(name), std::move(command));
  return true;
}

const std::map<std::string, Command>& commands() { return registry(); }

Args::Args(const std::vector<Flag>& flags, const std::vector<std::string>& argv) {
  auto find = [&](const std::string& name) -> const Flag* {
    for (const Flag& f : flags)
      if (f.name == name) return &f;
    return nullptr;
  };
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.size() < 2 || arg.rfind("--", 0) != 0) {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    const Flag* flag = find(name);
    if (flag == nullptr) throw UsageError("unknown option '" + name + "'", "see --help");
    std::string value = "true";
    if (!flag->value_name.empty()) {
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < argv.size()) {
        value = argv[++i];
      } else {
        throw UsageError("option '" + name + "' needs a value " + flag->value_name);
      }
    } else if (inline_value) {
      throw UsageError("option '" + name + "' takes no value");
    }
    auto& slot = values_[name];
    if (!slot.empty() && !flag->repeated) throw UsageError("option '" + name + "' given twice");
    slot.push_back(value);
  }
  for (const Flag& f : flags)
    if (f.required && (!has(f.name) || (!f.value_name.empty() && get(f.name).empty())))
      throw UsageError(str(f.name, f.value_name.empty() ? "" : " " + f.value_name, " is required"), f.help);
}

bool Args::has(const std::string& name) const { return values_.count(name) > 0; }

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.back();
}

std::optional<std::string> Args::maybe(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int64_t Args::get_int(const std::string& name, int64_t fallback) const {
  auto v = maybe(name);
  if (!v) return fallback;
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0') throw UsageError("option '" + name + "' wants an integer, got '" + *v + "'");
  if (errno == ERANGE) throw UsageError("option '" + name + "': " + *v + " is out of the range of a 64-bit integer");
  return parsed;
}

double Args::get_double(const std::string& name, double fallback) const {
  auto v = maybe(name);
  if (!v) return fallback;
  char* end = nullptr;
  const double parsed = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0') throw UsageError("option '" + name + "' wants a number, got '" + *v + "'");
  // strtod takes "nan" and "inf" (and overflows to inf): no option means either.
  if (!std::isfinite(parsed)) throw UsageError("option '" + name + "' wants a finite number, got '" + *v + "'");
  return parsed;
}

const std::string& Args::positional(size_t index, const std::string& what) const {
  if (index >= positional_.size()) throw UsageError("missing " + what);
  return positional_[index];
}

}  // namespace vlm::cli
