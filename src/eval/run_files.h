// The files of a run directory that evaluation writes and `vlm report` reads, in one place so
// the trainer writes exactly what the report reads:
//   config.yaml               resolved run config (written by train/)
//   metrics.jsonl             one JSON object per line: {"step": N, "train/loss": x, "lr": y, ...}
//   plots/<key>.png           one PNG per curve (written by the report)
//   eval/retrieval.json       RetrievalMetrics (keys below)
//   eval/grid.png             similarity grid (eval/grid.h)
//   eval/grid_captions.txt    the grid's row captions T0, T1, ... one per line (shown in the report)
//   eval/captions.csv         image,references,generated (RFC 4180; references joined by '\n')
//   eval/caption_metrics.json {"BLEU-1": x, ..., "CIDEr-D": z}
//   report.html               the self-contained report (eval/report.h)
#pragma once

#include <cstdint>
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

// metrics.jsonl: a step and its scalar values; non-numeric fields are skipped on reading,
// blank lines ignored, a malformed line is a FileError naming the line.
struct MetricsRow {
  int64_t step = 0;
  std::map<std::string, double> values;  // "train/loss" -> 2.31
};
std::vector<MetricsRow> read_metrics(const std::string& path);
// One line (no newline) in the format above; append it to metrics.jsonl.
std::string metrics_line(const MetricsRow& row);

// eval/retrieval.json keys: "i2t_R@1", "i2t_R@5", "i2t_R@10", "t2i_R@1", "t2i_R@5", "t2i_R@10"
// (fractions), "i2t_median_rank", "i2t_mean_rank", "t2i_median_rank", "t2i_mean_rank",
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
