// Evaluation of trained models (any run, export or checkpoint) on a dataset's held-out split:
// retrieval with the stage-1 model (every caption of every image, the COCO / Flickr30k protocol,
// ranks computed block by block), zero-shot classification, captions and visual question
// answering with the stage-2 model, written into the model's eval/ folder in the formats the
// report reads (eval/run_files.h).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/retrieval.h"
#include "eval/zeroshot.h"

namespace vlm::inference {

// Which samples of --data to evaluate: the held-out split the training used (its
// data.val_fraction and data.split_seed, from the model's run config), the training split, or all.
enum class EvalSplit { kValidation, kTrain, kAll };
EvalSplit parse_eval_split(const std::string& text);  // "val" | "train" | "all"; throws UsageError
const char* eval_split_name(EvalSplit split);

struct RetrievalOptions {
  std::string data_path;    // any --data source
  EvalSplit split = EvalSplit::kValidation;
  std::string out_dir;      // eval files go to out_dir/eval/ (usually the run directory)
  int64_t max_images = 0;   // 0 = all (of the split)
  int64_t batch_size = 64;
  int64_t grid_images = 8;  // the similarity grid picture: first N images x their captions
  int64_t max_block_bytes = int64_t{256} << 20;  // bound on one block of similarity scores
};
// `model`: a stage-1 run, export or checkpoint. Every caption of every image is a text: an image
// is found at K when any of its captions ranks in the top K; a caption when its image does.
eval::RetrievalMetrics evaluate_retrieval(const std::string& model, const RetrievalOptions& options);

struct ZeroShotOptions {
  std::string data_path;               // a class folder (class_name/*.jpg) or a table whose caption is the label
  std::vector<std::string> templates;  // empty = eval::default_zeroshot_templates()
  std::string out_dir;                 // eval/zeroshot.json goes to out_dir/eval/
  int64_t max_images = 0;
  int64_t batch_size = 64;
};
// `model`: a stage-1 run, export or checkpoint. Classes are the labels' distinct values, sorted.
eval::ZeroShotResult evaluate_zeroshot(const std::string& model, const ZeroShotOptions& options);

struct CaptionOptions {
  std::string data_path;
  EvalSplit split = EvalSplit::kValidation;
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
// `model`: a stage-2 run, export or checkpoint; begin/end index the split's samples. Writes
// eval/captions.csv and eval/caption_metrics.json.
CaptionResult evaluate_captions(const std::string& model, const CaptionOptions& options);

// Share of questions answered exactly (case and surrounding punctuation ignored).
struct VqaResult {
  int64_t questions = 0;
  double accuracy = 0;
  std::map<std::string, Tally> by_kind;  // by question_kind()
};
VqaResult evaluate_vqa(const std::string& model, const std::string& data_path, EvalSplit split,
                       int64_t max_images = 0);

// What a question asks, for the per-kind breakdown: its first two words, lower case
// ("What shape is the red object?" -> "what shape", "Is there a red star?" -> "is there").
std::string question_kind(const std::string& question);

// {"1": {"accuracy": x, "images": n}, ...} and {"what shape": {"accuracy": x, "questions": n}, ...}.
nlohmann::json attribute_breakdown_json(const CaptionResult& result);
nlohmann::json vqa_json(const VqaResult& result);

// The (colour, shape) pairs a synthetic caption names, sorted: "a small red circle above a
// large blue star" -> {(blue, star), (red, circle)}.
std::vector<std::pair<std::string, std::string>> colour_shape_pairs(const std::string& caption);

}  // namespace vlm::inference
