// `vlm eval retrieval`, `vlm eval captions` and `vlm eval vqa`: evaluate a trained run on a
// dataset, write the results into the run's eval/ folder (retrieval, captions) and print them
// as one JSON object.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "train/evaluate.h"

namespace {

int run_eval_retrieval(const vlm::cli::Args& args) {
  const std::string model = args.get("--model");
  if (model.empty()) throw vlm::UsageError("--model RUN is required");
  vlm::train::RetrievalOptions o;
  o.data_path = args.get("--data");
  if (o.data_path.empty()) throw vlm::UsageError("--data PATH is required");
  o.out_dir = args.get("--out", model);
  o.max_images = args.get_int("--max-images", 0);
  const auto m = vlm::train::evaluate_retrieval(model, o);
  const nlohmann::json out = {
      {"i2t", {{"R@1", m.i2t_r1}, {"R@5", m.i2t_r5}, {"R@10", m.i2t_r10}, {"median_rank", m.i2t_median_rank},
               {"mean_rank", m.i2t_mean_rank}}},
      {"t2i", {{"R@1", m.t2i_r1}, {"R@5", m.t2i_r5}, {"R@10", m.t2i_r10}, {"median_rank", m.t2i_median_rank},
               {"mean_rank", m.t2i_mean_rank}}},
      {"images", m.num_images}};
  std::cout << out.dump() << "\n";
  return 0;
}

// "130:160" -> [130, 160); "130:" -> [130, end).
std::pair<int64_t, int64_t> parse_range(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos) throw vlm::UsageError("--range wants BEGIN:END, got '" + text + "'");
  try {
    const int64_t begin = colon == 0 ? 0 : std::stoll(text.substr(0, colon));
    const int64_t end = colon + 1 == text.size() ? -1 : std::stoll(text.substr(colon + 1));
    if (begin < 0 || (end >= 0 && end < begin)) throw std::invalid_argument("order");
    return {begin, end};
  } catch (const std::exception&) {
    throw vlm::UsageError("--range wants BEGIN:END with 0 <= BEGIN <= END, got '" + text + "'");
  }
}

int run_eval_captions(const vlm::cli::Args& args) {
  const std::string model = args.get("--model");
  if (model.empty()) throw vlm::UsageError("--model RUN is required");
  vlm::train::CaptionOptions o;
  o.data_path = args.get("--data");
  if (o.data_path.empty()) throw vlm::UsageError("--data PATH is required");
  o.out_dir = args.get("--out", model);
  if (auto range = args.maybe("--range")) std::tie(o.begin, o.end) = parse_range(*range);
  o.greedy = !args.has("--sample");
  o.prompt = args.get("--prompt", "");
  const auto r = vlm::train::evaluate_captions(model, o);
  nlohmann::json out = r.metrics;
  out["images"] = r.images;
  out["attribute_accuracy"] = r.attribute_accuracy;
  out["by_objects"] = vlm::train::attribute_breakdown_json(r);
  std::cout << out.dump() << "\n";
  return 0;
}

int run_eval_vqa(const vlm::cli::Args& args) {
  const std::string model = args.get("--model");
  if (model.empty()) throw vlm::UsageError("--model RUN is required");
  const std::string data = args.get("--data");
  if (data.empty()) throw vlm::UsageError("--data PATH is required");
  const auto r = vlm::train::evaluate_vqa(model, data, args.get_int("--max-images", 0));
  std::cout << vlm::train::vqa_json(r).dump() << "\n";
  return 0;
}

const bool kRetrieval = vlm::cli::register_command({
    .name = "eval retrieval",
    .usage = "--model RUN --data PATH [--out DIR] [--max-images N]",
    .summary = "image-text retrieval Recall@1/5/10 both ways, ranks and the similarity grid (stage-1 run)",
    .flags = {{"--model", "RUN", "a stage-1 run directory or its export/"},
              {"--data", "PATH", "dataset (table, img2dataset folder, shards, image folder)"},
              {"--out", "DIR", "write eval/ here (default: the run directory)"},
              {"--max-images", "N", "use the first N samples only"}},
    .run = run_eval_retrieval,
});

const bool kCaptions = vlm::cli::register_command({
    .name = "eval captions",
    .usage = "--model RUN --data PATH [--range BEGIN:END] [--out DIR] [--sample] [--prompt TEXT]",
    .summary = "caption images, write eval/captions.csv and BLEU/ROUGE-L/CIDEr-D (stage-2 run)",
    .flags = {{"--model", "RUN", "a stage-2 run directory or its export/"},
              {"--data", "PATH", "dataset with reference captions"},
              {"--range", "BEGIN:END", "only samples BEGIN..END-1, e.g. 130:160 as the reference"},
              {"--out", "DIR", "write eval/ here (default: the run directory)"},
              {"--sample", "", "sample with the run's generation settings instead of greedy decoding"},
              {"--prompt", "TEXT", "the user prompt (default: the first training prompt)"}},
    .run = run_eval_captions,
});

const bool kVqa = vlm::cli::register_command({
    .name = "eval vqa",
    .usage = "--model RUN --data PATH [--max-images N]",
    .summary = "answer every question of a dataset's samples greedily; exact-match accuracy, overall and by kind",
    .flags = {{"--model", "RUN", "a stage-2 run directory or its export/"},
              {"--data", "PATH", "dataset whose samples carry question-answer pairs (e.g. the demo's)"},
              {"--max-images", "N", "use the first N samples only"}},
    .run = run_eval_vqa,
});

}  // namespace
