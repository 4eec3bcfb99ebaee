// The run report: one self-contained HTML file (images inlined as base64 data URIs, charts as
// inline SVG, one inline script that marks when every image has decoded; nothing loaded from
// elsewhere) built from the run directory's files (eval/run_files.h); absent ones are said so.
#pragma once

#include <string>

namespace vlm::eval {

struct ReportOptions {
  int thumbnail = 160;       // longest side of gallery thumbnails, pixels
  size_t max_gallery = 200;  // rows of captions.csv shown
  bool write_plots = true;   // also write run_dir/plots/<curve>.png
};

// The HTML text for run_dir (reads only). Throws FileError for malformed files.
std::string render_report(const std::string& run_dir, const ReportOptions& options = {});

// Writes run_dir/report.html (atomically) and, with write_plots, run_dir/plots/*.png;
// returns the report's path.
std::string write_report(const std::string& run_dir, const ReportOptions& options = {});

}  // namespace vlm::eval
