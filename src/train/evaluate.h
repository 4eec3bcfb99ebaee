// Evaluation of trained runs on a dataset: retrieval with the stage-1 Q-Former (whole set
// embedded in batches, Recall@K both ways, ranks, the similarity grid), captions and visual
// question answering with the stage-2 model, written into a run's eval/ folder in the
// formats the report reads (eval/run_files.h).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/retrieval.h"

namespace vlm::train {

struct RetrievalOptions {
  std::string data_path;    // any --data source; every sample is used
  std::string out_dir;      // eval files go to out_dir/eval/ (usually the run directory)
  int64_t max_images = 0;   // 0 = all
  int64_t batch_size = 64;
  int64_t grid_images = 8;  // the similarity grid picture: first N images x their captions
};
// `model`: a stage-1 run or export folder.
eval::RetrievalMetrics evaluate_retrieval(const std::string& model, const RetrievalOptions& options);

struct CaptionOptions {
  std::string data_path;
  std::string out_dir;
  int64_t begin = 0, end = -1;  // sample range [begin, end), -1 = to the end
  int64_t batch_size = 32;
  bool greedy = true;           // demo evaluation; false = the run's sampling settings
  std::string prompt;           // empty = the first training prompt
};
// A share of right answers and how many it is out of.
struct Tally {
  int64_t total = 0;
  int64_t right = 0;
  double share() const { return total == 0 ? 0.0 : static_cast<double>(right) / static_cast<double>(total); }
};
struct CaptionResult {
  int64_t images = 0;
  double attribute_accuracy = 0;           // every object's colour and shape right (synthetic data)
  std::map<int, Tally> attribute_by_objects;  // the same, by how many objects the reference names
  std::map<std::string, double> metrics;   // BLEU-1..4, ROUGE-L, CIDEr-D
};
// `model`: a stage-2 run or export folder. Writes eval/captions.csv and eval/caption_metrics.json.
CaptionResult evaluate_captions(const std::string& model, const CaptionOptions& options);

// Share of questions answered exactly (case and surrounding punctuation ignored).
struct VqaResult {
  int64_t questions = 0;
  double accuracy = 0;
  std::map<std::string, Tally> by_kind;  // by question_kind()
};
VqaResult evaluate_vqa(const std::string& model, const std::string& data_path, int64_t max_images = 0);

// What a question asks, for the per-kind breakdown: its first two words, lower case
// ("What shape is the red object?" -> "what shape", "Is there a red star?" -> "is there").
std::string question_kind(const std::string& question);

// {"1": {"accuracy": x, "images": n}, ...} and {"what shape": {"accuracy": x, "questions": n}, ...}.
nlohmann::json attribute_breakdown_json(const CaptionResult& result);
nlohmann::json vqa_json(const VqaResult& result);

// The (colour, shape) pairs a synthetic caption names, sorted: "a small red circle above a
// large blue star" -> {(blue, star), (red, circle)}.
std::vector<std::pair<std::string, std::string>> colour_shape_pairs(const std::string& caption);

}  // namespace vlm::train
