#include "config/binder.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.h"

namespace vlm::config {
namespace {

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.append(sep);
    out.append(parts[i]);
  }
  return out;
}

std::string describe(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "nothing";
}

class YamlReader final : public Binder {
 public:
  YamlReader(const YAML::Node& root, std::string source, const Overrides& overrides)
      : source_(std::move(source)), overrides_(overrides) {
    if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
      throw FileError(source_, "the top level must be a mapping of sections");
    }
    frames_.push_back(Frame{root, "", {}, {}});
  }

  void field(std::string_view key, bool& value, std::string_view) override {
    auto node = take(key);
    if (!node) return;
    if (!node->IsScalar()) bad(key, "expected true or false, got " + describe(*node));
    const std::string s = node->Scalar();
    if (s == "true" || s == "True" || s == "yes" || s == "on") value = true;
    else if (s == "false" || s == "False" || s == "no" || s == "off") value = false;
    else bad(key, "expected true or false, got '" + s + "'");
  }

  void field(std::string_view key, int64_t& value, std::string_view, Limits limits) override {
    auto node = take(key);
    if (!node) return;
    value = integer(key, *node, limits, "an integer");
  }

  void field(std::string_view key, std::vector<int64_t>& value, std::string_view, Limits limits) override {
    list(key, value, "integers", [&](const YAML::Node& item) {
      return integer(key, item, limits, "every item to be an integer");
    });
  }

  void field(std::string_view key, double& value, std::string_view, Limits limits) override {
    auto node = take(key);
    if (!node) return;
    if (!node->IsScalar()) bad(key, "expected a number, got " + describe(*node));
    const std::string s = node->Scalar();
    size_t used = 0;
    double parsed = 0;
    try {
      parsed = std::stod(s, &used);
    } catch (const std::out_of_range&) {
      bad(key, "'" + s + "' is out of the range of a double");
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size()) bad(key, "expected a number, got '" + s + "'");
    if (!std::isfinite(parsed)) bad(key, "expected a finite number, got '" + s + "'");
    check(key, parsed, limits);
    value = parsed;
  }

  void field(std::string_view key, std::string& value, std::string_view,
             const std::vector<std::string>& choices) override {
    auto node = take(key);
    if (!node) return;
    if (node->IsNull()) {
      value.clear();
    } else if (!node->IsScalar()) {
      bad(key, "expected a string, got " + describe(*node));
    } else {
      value = node->Scalar();
    }
    if (!choices.empty()) {
      bool ok = false;
      for (const auto& c : choices) ok = ok || c == value;
      if (!ok) bad(key, "'" + value + "' is not one of: " + join(choices, ", "));
    }
  }

  void field(std::string_view key, std::vector<std::string>& value, std::string_view) override {
    list(key, value, "strings", [&](const YAML::Node& item) {
      if (!item.IsScalar()) bad(key, "every item must be a string, got " + describe(item));
      return item.Scalar();
    });
  }

  void finish() { check_unknown(frames_.back()); }

 protected:
  void begin_section(std::string_view key, std::string_view) override {
    Frame& top = frames_.back();
    top.known.emplace_back(key);
    const std::string path = qualify(key);
    YAML::Node child;
    if (top.node.IsMap() && top.node[std::string(key)]) {
      child = top.node[std::string(key)];
      top.seen.insert(std::string(key));
      if (!child.IsNull() && !child.IsMap()) {
        throw ConfigError(path, "expected a mapping, got " + describe(child), origin(path));
      }
    }
    frames_.push_back(Frame{child, path, {}, {}});
  }

  void end_section() override {
    check_unknown(frames_.back());
    frames_.pop_back();
  }

 private:
  struct Frame {
    YAML::Node node;
    std::string path;
    std::set<std::string> seen;
    std::vector<std::string> known;
  };

  std::string qualify(std::string_view key) const {
    const std::string& base = frames_.back().path;
    return base.empty() ? std::string(key) : base + "." + std::string(key);
  }

  std::optional<YAML::Node> take(std::string_view key) {
    Frame& top = frames_.back();
    top.known.emplace_back(key);
    if (!top.node.IsDefined() || !top.node.IsMap()) return std::nullopt;
    YAML::Node child = top.node[std::string(key)];
    if (!child.IsDefined()) return std::nullopt;
    top.seen.insert(std::string(key));
    return child;
  }

  // A list field: absent keeps `value`, null empties it, each item is read by `item`.
  template <typename T, typename ReadItem>
  void list(std::string_view key, std::vector<T>& value, const char* what, const ReadItem& item) {
    auto node = take(key);
    if (!node) return;
    if (node->IsNull()) {
      value.clear();
      return;
    }
    if (!node->IsSequence()) bad(key, str("expected a list of ", what, ", got ", describe(*node)));
    std::vector<T> out;
    for (const auto& n : *node) out.push_back(item(n));
    value = std::move(out);
  }

  int64_t integer(std::string_view key, const YAML::Node& node, const Limits& limits, const char* expected) const {
    if (!node.IsScalar()) bad(key, str("expected ", expected, ", got ", describe(node)));
    const std::string s = node.Scalar();
    size_t used = 0;
    long long parsed = 0;
    try {
      parsed = std::stoll(s, &used);
    } catch (const std::out_of_range&) {
      bad(key, str("'", s, "' is out of the range of a 64-bit integer"));
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size()) bad(key, str("expected ", expected, ", got '", s, "'"));
    check(key, static_cast<double>(parsed), limits);
    return parsed;
  }

  [[noreturn]] void bad(std::string_view key, const std::string& what) const {
    const std::string path = qualify(key);
    throw ConfigError(path, what, origin(path));
  }

  // Where the value at `path` came from: the --set that wrote it (or a section above it), else the file.
  std::string origin(const std::string& path) const {
    for (auto it = overrides_.rbegin(); it != overrides_.rend(); ++it)  // the last --set of a key wins
      if (path == it->first || path.rfind(it->first + ".", 0) == 0) return "from --set " + it->second;
    return "in " + source_;
  }

  // Whole numbers in full (a bound of 1048576 is not "1.04858e+06"), others as ostream prints them.
  static std::string number(double v) {
    if (std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
    std::ostringstream out;
    out << v;
    return out.str();
  }

  void check(std::string_view key, double v, const Limits& limits) const {
    const bool low = limits.min_exclusive ? v <= limits.min : v < limits.min;
    if (low || v > limits.max) {
      std::string range = str("must be ", limits.min_exclusive ? "> " : ">= ", number(limits.min));
      if (std::isfinite(limits.max)) range += " and <= " + number(limits.max);
      bad(key, range + ", got " + number(v));
    }
  }

  void check_unknown(const Frame& frame) const {
    if (!frame.node.IsDefined() || !frame.node.IsMap()) return;
    for (const auto& kv : frame.node) {
      const std::string key = kv.first.as<std::string>();
      if (frame.seen.count(key)) continue;
      bool is_known_section = false;
      for (const auto& k : frame.known) is_known_section = is_known_section || k == key;
      if (is_known_section) continue;
      const std::string path = frame.path.empty() ? key : frame.path + "." + key;
      throw ConfigError(path, "unknown key", origin(path) + "; valid keys here: " + join(frame.known, ", "));
    }
  }

  std::string source_;
  const Overrides& overrides_;
  std::vector<Frame> frames_;
};

// Sections register their keys with the parent frame too, so "unknown key" hints list them.
class YamlWriter final : public Binder {
 public:
  void field(std::string_view key, bool& value, std::string_view doc) override {
    line(key, value ? "true" : "false", doc);
  }
  void field(std::string_view key, int64_t& value, std::string_view doc, Limits) override {
    line(key, std::to_string(value), doc);
  }
  void field(std::string_view key, double& value, std::string_view doc, Limits) override {
    std::ostringstream s;
    s << value;
    std::string text = s.str();
    if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
    line(key, text, doc);
  }
  void field(std::string_view key, std::string& value, std::string_view doc,
             const std::vector<std::string>& choices) override {
    std::string d(doc);
    if (!choices.empty()) {
      if (!d.empty()) d.append(" ");
      d.append("(").append(join(choices, " | ")).append(")");
    }
    line(key, quote(value), d);
  }
  void field(std::string_view key, std::vector<std::string>& value, std::string_view doc) override {
    if (value.empty()) {
      line(key, "[]", doc);
      return;
    }
    comment(doc);
    out_ << indent() << key << ":\n";
    for (const auto& v : value) out_ << indent() << "  - " << quote(v) << "\n";
  }
  void field(std::string_view key, std::vector<int64_t>& value, std::string_view doc, Limits) override {
    std::string text = "[";
    for (size_t i = 0; i < value.size(); ++i) text += (i > 0 ? ", " : "") + std::to_string(value[i]);
    line(key, text + "]", doc);
  }
  std::string text() const { return out_.str(); }

 protected:
  void begin_section(std::string_view key, std::string_view doc) override {
    comment(doc);
    out_ << indent() << key << ":\n";
    ++depth_;
  }
  void end_section() override { --depth_; }

 private:
  std::string indent() const { return std::string(static_cast<size_t>(depth_) * 2, ' '); }
  void comment(std::string_view doc) {
    if (!doc.empty()) out_ << indent() << "# " << doc << "\n";
  }
  void line(std::string_view key, const std::string& value, std::string_view doc) {
    out_ << indent() << key << ": " << value;
    if (!doc.empty()) out_ << "  # " << doc;
    out_ << "\n";
  }
  static std::string quote(const std::string& s) {
    YAML::Emitter e;
    e << YAML::DoubleQuoted << s;
    return e.c_str();
  }

  std::ostringstream out_;
  int depth_ = 0;
};

}  // namespace

void read_yaml(const YAML::Node& root, const std::string& source, const std::function<void(Binder&)>& bind_root,
               const Overrides& overrides) {
  YamlReader reader(root, source, overrides);
  bind_root(reader);
  reader.finish();
}

std::string write_yaml(const std::function<void(Binder&)>& bind_root) {
  YamlWriter writer;
  bind_root(writer);
  return writer.text();
}

namespace {
void set_path(YAML::Node node, const std::vector<std::string>& path, size_t i, const YAML::Node& value,
              const std::string& assignment) {
  if (!node.IsMap() && !node.IsNull() && node.IsDefined()) {
    throw UsageError("--set " + assignment + ": '" + path[i - 1] + "' is not a section");
  }
  if (i + 1 == path.size()) {
    node[path[i]] = value;
    return;
  }
  YAML::Node child = node[path[i]];
  if (!child.IsDefined() || child.IsNull()) {
    node[path[i]] = YAML::Node(YAML::NodeType::Map);
    child = node[path[i]];
  }
  set_path(child, path, i + 1, value, assignment);
}
}  // namespace

std::string apply_override(YAML::Node& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError("--set wants KEY=VALUE, got '" + assignment + "'", "e.g. --set train.lr=3e-4");
  }
  std::vector<std::string> path;
  std::stringstream keys(assignment.substr(0, eq));
  for (std::string part; std::getline(keys, part, '.');) {
    if (part.empty()) throw UsageError("--set " + assignment + ": empty key segment");
    path.push_back(part);
  }
  if (path.empty() || assignment[eq - 1] == '.') throw UsageError("--set " + assignment + ": empty key segment");
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::DeepRecursion&) {
    throw UsageError("--set " + assignment.substr(0, eq) + "=...: the value is nested deeper than 2000 levels");
  } catch (const YAML::Exception& e) {
    throw UsageError("--set " + assignment + ": value is not valid YAML (" + e.msg + ")");
  }
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  set_path(root, path, 0, value, assignment);
  return assignment.substr(0, eq);
}

namespace {

// Throws FileError for a key given twice in one mapping (yaml-cpp keeps the first silently, so a
// second `train:` section would be ignored). Depth is bounded by yaml-cpp's parser (2000).
void refuse_duplicate_keys(const YAML::Node& node, const std::string& path) {
  if (node.IsSequence()) {
    for (const auto& item : node) refuse_duplicate_keys(item, path);
    return;
  }
  if (!node.IsMap()) return;
  std::map<std::string, int> first_line;
  for (const auto& kv : node) {
    if (kv.first.IsScalar()) {
      const int line = kv.first.Mark().line + 1;
      const auto [it, fresh] = first_line.emplace(kv.first.Scalar(), line);
      if (!fresh) {
        throw FileError(path, str("key '", kv.first.Scalar(), "' appears twice in one mapping (lines ", it->second,
                                  " and ", line, ")"),
                        "keep one of them: YAML would silently use only one");
      }
    }
    refuse_duplicate_keys(kv.second, path);
  }
}

}  // namespace

YAML::Node load_yaml_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw FileError(path, "no such config file");
  if (std::filesystem::is_directory(path, ec))
    throw FileError(path, "is a directory, not a config file", "name a YAML file, e.g. configs/demo/stage1.yaml");
  if (!std::filesystem::is_regular_file(path, ec)) throw FileError(path, "not a regular file (a YAML config expected)");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw FileError(path, "cannot read config file");
  } catch (const YAML::DeepRecursion& e) {
    throw FileError(path, str("nested deeper than yaml-cpp's limit of 2000 levels (at line ", e.mark.line + 1, ")"),
                    "a run config is a few levels deep: this is not one");
  } catch (const YAML::Exception& e) {
    throw FileError(path, str("YAML syntax error at line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ",
                              e.msg));
  }
  refuse_duplicate_keys(root, path);
  return root;
}

}  // namespace vlm::config
