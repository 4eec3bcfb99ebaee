// The files of a run directory that evaluation writes and `vlm report` reads, in one place so
// the trainer writes exactly what the report reads:
//   config.yaml               resolved run config (written by train/)
//   metrics.jsonl             one JSON object per line: {"step": N, "time": t, "train/loss": x, ...}
//   plots/<key>.png           one PNG per curve (written by the report)
//   eval/retrieval.json       RetrievalMetrics (keys below)
//   eval/grid.png             similarity grid (eval/grid.h)
//   eval/grid_captions.txt    the grid's row captions T0, T1, ... one per line (shown in the report)
//   eval/captions.csv         image,references,generated (RFC 4180; references joined by '\n')
//   eval/caption_metrics.json {"BLEU-1": x, ..., "CIDEr-D": z}
//   report.html               the self-contained report (eval/report.h)
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "eval/retrieval.h"

namespace vlm::eval::run_files {

std::string config_path(const std::string& run_dir);
std::string metrics_path(const std::string& run_dir);
std::string plots_dir(const std::string& run_dir);
std::string eval_dir(const std::string& run_dir);
std::string retrieval_path(const std::string& run_dir);
std::string grid_path(const std::string& run_dir);
std::string grid_captions_path(const std::string& run_dir);
std::string captions_path(const std::string& run_dir);
std::string caption_metrics_path(const std::string& run_dir);
std::string report_path(const std::string& run_dir);

// metrics.jsonl, one JSON object per line, written by train::MetricsLogger through metrics_line and
// read by the report, the trainer's resume and the tests through read_metrics (one pair):
//   {"step": N, "time": unix_seconds, "<name>": value, ...}
// "step" first (an integer), "time" the wall clock (left out when NaN), then the scalars by name;
// a non-finite value is written as null and reads back as NaN. Reading: blank lines skipped, a
// last line torn by a kill skipped, any other line that is not such an object (a missing integer
// "step", a value that is neither a number nor null) is a FileError naming PATH:LINE.
struct MetricsRow {
  int64_t step = 0;
  double time = std::numeric_limits<double>::quiet_NaN();  // unix seconds; NaN when absent
  std::map<std::string, double> values;                     // "train/loss" -> 2.31; null -> NaN
};
std::vector<MetricsRow> read_metrics(const std::string& path);
// One line (no newline) in the format above; throws vlm::Error if a value is named "step" or "time".
std::string metrics_line(const MetricsRow& row);

// RetrievalMetrics as JSON, the one spelling of its keys: {"i2t": {"R@1", "R@5", "R@10" (fractions),
// "median_rank", "mean_rank"}, "t2i": {...}, "images": N, "texts": M}; printed by `vlm eval
// retrieval`, kept in the demo's summary.json.
nlohmann::json retrieval_json(const RetrievalMetrics& metrics);
// eval/retrieval.json holds the same keys flattened: "i2t_R@1", ..., "t2i_mean_rank",
// "num_images", "num_texts".
void write_retrieval(const std::string& path, const RetrievalMetrics& metrics);
RetrievalMetrics read_retrieval(const std::string& path);

// eval/grid_captions.txt (newlines inside a caption become spaces).
void write_grid_captions(const std::string& path, const std::vector<std::string>& captions);
std::vector<std::string> read_grid_captions(const std::string& path);

// eval/captions.csv rows. `image` is a path, absolute or relative to the run directory.
struct CaptionRow {
  std::string image;
  std::vector<std::string> references;
  std::string generated;
};
void write_captions(const std::string& path, const std::vector<CaptionRow>& rows);
std::vector<CaptionRow> read_captions(const std::string& path);

// eval/caption_metrics.json: the map score_captions returns.
void write_caption_metrics(const std::string& path, const std::map<std::string, double>& metrics);
std::map<std::string, double> read_caption_metrics(const std::string& path);

}  // namespace vlm::eval::run_files
