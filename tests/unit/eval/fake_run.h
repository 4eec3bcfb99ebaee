// A fake but complete run directory for the report tests: config, 60 steps of metrics, 8
// synthetic scenes with references and "generated" captions, retrieval metrics, grid, caption
// metrics. Used by test_unit_eval and test_e2e_report.
#pragma once

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/synthetic.h"
#include "eval/caption_metrics.h"
#include "eval/grid.h"
#include "eval/retrieval.h"
#include "eval/run_files.h"

namespace vlm::eval::fake {

inline void make_fake_run(const std::string& run_dir, int num_images = 8) {
  namespace fs = std::filesystem;
  fs::create_directories(fs::path(run_dir) / "images");
  std::ofstream(run_files::config_path(run_dir)) << "# resolved config\nname: fake-run\nstage: stage1\n"
                                                   "train:\n  lr: 0.0001\n  steps: 60\n  batch_size: 8\n"
                                                   "model:\n  vision: google/vit-base-patch16-224\n";
  {
    std::ofstream m(run_files::metrics_path(run_dir));
    for (int step = 1; step <= 60; ++step) {
      run_files::MetricsRow row{.step = step, .time = 1.8e9 + step};  // the wall clock, as the trainer writes it
      row.values["train/loss"] = 2.5 * std::exp(-step / 20.0) + 0.3 + 0.05 * std::sin(step);
      row.values["lr"] = 1e-4 * std::min(1.0, step / 10.0);
      if (step % 10 == 0) {
        row.values["val/loss"] = 2.4 * std::exp(-step / 25.0) + 0.4;
        row.values["val/i2t_R@1"] = std::min(1.0, step / 70.0);
        row.values["val/t2i_R@1"] = std::min(1.0, step / 80.0);
      }
      m << run_files::metrics_line(row) << "\n";
    }
  }
  data::SyntheticConfig config{.seed = 7, .image_size = 96};
  std::vector<data::Image> images;
  std::vector<std::string> captions;
  std::vector<run_files::CaptionRow> rows;
  Predictions predictions;
  References references;
  for (int i = 0; i < num_images; ++i) {
    const auto sample = data::generate_sample(config, data::SyntheticSplit::kTrain, static_cast<uint64_t>(i));
    const std::string file = "images/" + std::to_string(i) + ".png";
    data::write_png((fs::path(run_dir) / file).string(), sample.image);
    images.push_back(sample.image);
    captions.push_back(sample.caption);
    const std::string generated = i % 3 == 0 ? sample.caption : "a small shape, \"maybe\" a circle & a square";
    rows.push_back({file, {sample.caption, "a picture of coloured shapes"}, generated});
    predictions[std::to_string(i)] = generated;
    references[std::to_string(i)] = rows.back().references;
  }
  // Similarity: the true pair high, with a little structure elsewhere.
  std::vector<float> sim;
  std::vector<int64_t> map;
  for (int t = 0; t < num_images; ++t) map.push_back(t);
  for (int i = 0; i < num_images; ++i) {
    for (int t = 0; t < num_images; ++t) {
      sim.push_back(i == t ? 0.55f + 0.04f * static_cast<float>(i % 3)
                           : 0.1f + 0.3f * static_cast<float>(std::abs(std::sin(1.7 * i + 0.9 * t))));
    }
  }
  run_files::write_retrieval(run_files::retrieval_path(run_dir), compute_retrieval(sim, num_images, num_images, map));
  write_similarity_grid(run_files::grid_path(run_dir), images, sim, num_images, map);
  run_files::write_grid_captions(run_files::grid_captions_path(run_dir), captions);
  run_files::write_captions(run_files::captions_path(run_dir), rows);
  run_files::write_caption_metrics(run_files::caption_metrics_path(run_dir), score_captions(predictions, references));
}

}  // namespace vlm::eval::fake
