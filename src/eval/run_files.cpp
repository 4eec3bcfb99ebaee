// Readers and writers of a run directory's evaluation files (eval/run_files.h). The CSV is
// RFC 4180 written and parsed here: two dozen lines, not worth a CSV library.
#include "eval/run_files.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/jsonl.h"

namespace vlm::eval::run_files {
namespace fs = std::filesystem;

std::string config_path(const std::string& run_dir) { return (fs::path(run_dir) / "config.yaml").string(); }
std::string metrics_path(const std::string& run_dir) { return (fs::path(run_dir) / "metrics.jsonl").string(); }
std::string plots_dir(const std::string& run_dir) { return (fs::path(run_dir) / "plots").string(); }
std::string eval_dir(const std::string& run_dir) { return (fs::path(run_dir) / "eval").string(); }
std::string retrieval_path(const std::string& run_dir) { return (fs::path(eval_dir(run_dir)) / "retrieval.json").string(); }
std::string grid_path(const std::string& run_dir) { return (fs::path(eval_dir(run_dir)) / "grid.png").string(); }
std::string grid_captions_path(const std::string& run_dir) {
  return (fs::path(eval_dir(run_dir)) / "grid_captions.txt").string();
}
std::string captions_path(const std::string& run_dir) { return (fs::path(eval_dir(run_dir)) / "captions.csv").string(); }
std::string caption_metrics_path(const std::string& run_dir) {
  return (fs::path(eval_dir(run_dir)) / "caption_metrics.json").string();
}
std::string report_path(const std::string& run_dir) { return (fs::path(run_dir) / "report.html").string(); }

namespace {

double number_at(const nlohmann::json& j, const char* key, const std::string& path) {
  if (!j.contains(key) || !j[key].is_number()) throw FileError(path, str("expected a number at \"", key, "\""));
  return j[key].get<double>();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// Splits RFC 4180 text into records of fields.
std::vector<std::vector<std::string>> parse_csv(const std::string& text, const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  int line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"', ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"') {
      if (!field.empty()) throw FileError(str(path, ":", line), "a quote inside an unquoted field");
      quoted = true, any = true;
    } else if (c == ',') {
      row.push_back(std::move(field)), field.clear(), any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty()) row.push_back(std::move(field)), rows.push_back(std::move(row));
      field.clear(), row.clear(), any = false, ++line;
    } else {
      field += c, any = true;
    }
  }
  if (quoted) throw FileError(path, "unterminated quoted field");
  if (any || !field.empty()) row.push_back(std::move(field)), rows.push_back(std::move(row));
  return rows;
}

}  // namespace

std::vector<MetricsRow> read_metrics(const std::string& path) {
  std::vector<MetricsRow> rows;
  auto number_or_nan = [](const nlohmann::json& v, const std::string& key, const std::string& where) {
    if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
    if (!v.is_number()) throw FileError(where, str("value of \"", key, "\" is not a number"));
    return v.get<double>();
  };
  io::for_each_jsonl_object(
      path,
      [&](const nlohmann::json& j, const std::string& where) {
        if (!j.contains("step") || !j["step"].is_number_integer())
          throw FileError(where, "expected an object with an integer \"step\"");
        MetricsRow row{.step = j["step"].get<int64_t>()};
        for (const auto& [key, value] : j.items()) {
          if (key == "step") continue;
          if (key == "time") row.time = number_or_nan(value, key, where);
          else row.values[key] = number_or_nan(value, key, where);
        }
        rows.push_back(std::move(row));
      },
      io::JsonlTail::kSkipTornLast);
  return rows;
}

std::string metrics_line(const MetricsRow& row) {
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr); };
  nlohmann::ordered_json j = {{"step", row.step}};
  if (!std::isnan(row.time)) j["time"] = row.time;
  for (const auto& [key, value] : row.values) {
    if (key == "step" || key == "time") throw Error(str("metric name '", key, "' is reserved"));
    j[key] = number(value);
  }
  return j.dump();
}

nlohmann::json retrieval_json(const RetrievalMetrics& m) {
  return {{"i2t", {{"R@1", m.i2t_r1}, {"R@5", m.i2t_r5}, {"R@10", m.i2t_r10}, {"median_rank", m.i2t_median_rank},
                   {"mean_rank", m.i2t_mean_rank}}},
          {"t2i", {{"R@1", m.t2i_r1}, {"R@5", m.t2i_r5}, {"R@10", m.t2i_r10}, {"median_rank", m.t2i_median_rank},
                   {"mean_rank", m.t2i_mean_rank}}},
          {"images", m.num_images},
          {"texts", m.num_texts}};
}

void write_retrieval(const std::string& path, const RetrievalMetrics& m) {
  const nlohmann::json nested = retrieval_json(m);
  nlohmann::json flat = {{"num_images", nested["images"]}, {"num_texts", nested["texts"]}};
  for (const char* direction : {"i2t", "t2i"})
    for (const auto& [key, value] : nested[direction].items()) flat[str(direction, "_", key)] = value;
  fs::create_directories(fs::path(path).parent_path());
  io::write_file_atomic(path, flat.dump(2) + "\n");
}

RetrievalMetrics read_retrieval(const std::string& path) {
  const nlohmann::json j = io::read_json_file(path);
  RetrievalMetrics m;
  m.i2t_r1 = number_at(j, "i2t_R@1", path);
  m.i2t_r5 = number_at(j, "i2t_R@5", path);
  m.i2t_r10 = number_at(j, "i2t_R@10", path);
  m.t2i_r1 = number_at(j, "t2i_R@1", path);
  m.t2i_r5 = number_at(j, "t2i_R@5", path);
  m.t2i_r10 = number_at(j, "t2i_R@10", path);
  m.i2t_median_rank = number_at(j, "i2t_median_rank", path);
  m.i2t_mean_rank = number_at(j, "i2t_mean_rank", path);
  m.t2i_median_rank = number_at(j, "t2i_median_rank", path);
  m.t2i_mean_rank = number_at(j, "t2i_mean_rank", path);
  m.num_images = static_cast<int64_t>(number_at(j, "num_images", path));
  m.num_texts = static_cast<int64_t>(number_at(j, "num_texts", path));
  return m;
}

void write_grid_captions(const std::string& path, const std::vector<std::string>& captions) {
  std::string out;
  for (std::string c : captions) {
    for (char& ch : c) ch = ch == '\n' || ch == '\r' ? ' ' : ch;
    out += c + "\n";
  }
  fs::create_directories(fs::path(path).parent_path());
  io::write_file_atomic(path, out);
}

std::vector<std::string> read_grid_captions(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw FileError(path, "cannot open for reading");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void write_captions(const std::string& path, const std::vector<CaptionRow>& rows) {
  std::string out = "image,references,generated\n";
  for (const CaptionRow& r : rows) {
    std::string refs;
    for (const std::string& s : r.references) refs += (refs.empty() ? "" : "\n") + s;
    out += csv_field(r.image) + "," + csv_field(refs) + "," + csv_field(r.generated) + "\n";
  }
  fs::create_directories(fs::path(path).parent_path());
  io::write_file_atomic(path, out);
}

std::vector<CaptionRow> read_captions(const std::string& path) {
  const auto records = parse_csv(io::read_file(path), path);
  if (records.empty() || records[0] != std::vector<std::string>{"image", "references", "generated"}) {
    throw FileError(path, "expected the header line image,references,generated");
  }
  std::vector<CaptionRow> rows;
  for (size_t i = 1; i < records.size(); ++i) {
    if (records[i].size() != 3) throw FileError(path, str("record ", i + 1, " has ", records[i].size(), " fields, expected 3"));
    CaptionRow row{.image = records[i][0], .generated = records[i][2]};
    size_t start = 0;
    const std::string& refs = records[i][1];
    while (start <= refs.size() && !refs.empty()) {
      const size_t end = refs.find('\n', start);
      row.references.push_back(refs.substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

void write_caption_metrics(const std::string& path, const std::map<std::string, double>& metrics) {
  fs::create_directories(fs::path(path).parent_path());
  io::write_file_atomic(path, nlohmann::json(metrics).dump(2) + "\n");
}

std::map<std::string, double> read_caption_metrics(const std::string& path) {
  const nlohmann::json j = io::read_json_file(path);
  if (!j.is_object()) throw FileError(path, "expected a JSON object");
  std::map<std::string, double> out;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_number()) throw FileError(path, str("\"", key, "\" is not a number"));
    out[key] = value.get<double>();
  }
  return out;
}

}  // namespace vlm::eval::run_files
