// Typed config trees without boilerplate: each config struct lists its fields once in
// `void bind(Binder&)` (key, reference, doc line, limits) and the binders below read YAML
// into it (refusing unknown keys, wrong types and out-of-range values, naming the key),
// apply `--set a.b=c` overrides, and print it back as commented YAML.
// yaml-cpp parses; the struct binding is ours because yaml-cpp has no schema support.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace YAML { class Node; }

namespace vlm::config {

struct Limits {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;
};
inline Limits at_least(double v) { return Limits{v, std::numeric_limits<double>::infinity(), false}; }
inline Limits above(double v) { return Limits{v, std::numeric_limits<double>::infinity(), true}; }
inline Limits between(double lo, double hi) { return Limits{lo, hi, false}; }

class Binder {
 public:
  virtual ~Binder() = default;
  virtual void field(std::string_view key, bool& value, std::string_view doc) = 0;
  virtual void field(std::string_view key, int64_t& value, std::string_view doc, Limits limits = {}) = 0;
  virtual void field(std::string_view key, double& value, std::string_view doc, Limits limits = {}) = 0;
  // A string; when `choices` is non-empty the value must be one of them.
  virtual void field(std::string_view key, std::string& value, std::string_view doc,
                     const std::vector<std::string>& choices = {}) = 0;
  virtual void field(std::string_view key, std::vector<std::string>& value, std::string_view doc) = 0;
  // A list of integers, each within `limits`.
  virtual void field(std::string_view key, std::vector<int64_t>& value, std::string_view doc, Limits limits) = 0;

  template <typename T>
  void section(std::string_view key, T& sub, std::string_view doc = {}) {
    begin_section(key, doc);
    sub.bind(*this);
    end_section();
  }

 protected:
  virtual void begin_section(std::string_view key, std::string_view doc) = 0;
  virtual void end_section() = 0;
};

// Dotted key -> the `--set KEY=VALUE` that wrote it, so errors blame the override, not the file.
using Overrides = std::vector<std::pair<std::string, std::string>>;

// Reads `root` into a struct with bind(Binder&). Throws ConfigError (key path + problem + where
// the value came from: `in FILE`, or `from --set KEY=VALUE` for a key in `overrides`).
void read_yaml(const YAML::Node& root, const std::string& source,
               const std::function<void(Binder&)>& bind_root, const Overrides& overrides = {});
// Commented YAML of the struct's current values.
std::string write_yaml(const std::function<void(Binder&)>& bind_root);

// Applies "a.b.c=value" (value parsed as YAML, so lists and numbers work) to `root`; returns the
// dotted key ("a.b.c").
std::string apply_override(YAML::Node& root, const std::string& assignment);

// Parses a YAML file (FileError with line and column on a syntax error; for a directory or special
// file, nesting past 2000 levels, or a key given twice in one mapping).
YAML::Node load_yaml_file(const std::string& path);

}  // namespace vlm::config
