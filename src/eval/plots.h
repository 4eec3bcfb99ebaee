// Line charts of training curves for the report: as inline SVG text (the HTML page) and as
// PNG pictures (run_dir/plots/). Hand-written: a chart of a few hundred points needs axes,
// ticks and a polyline, which is less code than binding a plotting library from C++.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "data/image.h"

namespace vlm::eval {

struct Series {
  std::string name;                             // "train/loss"
  std::vector<std::pair<double, double>> points;  // (step, value), in step order
};

// A chart of one or more series sharing axes; empty series are skipped.
std::string line_chart_svg(const std::string& title, const std::vector<Series>& series, int width = 640,
                           int height = 300);
data::Image line_chart_png(const std::string& title, const std::vector<Series>& series, int width = 640,
                           int height = 320);

// "Nice" axis ticks covering [lo, hi] (1, 2, 5 x 10^k steps), at least two.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

}  // namespace vlm::eval
