// `vlm eval retrieval|zeroshot|captions|vqa`: evaluate a trained model (a run, its export, or any
// checkpoint) on a dataset's held-out split, write the results into the model's eval/ folder
// and print them as one JSON object.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "eval/run_files.h"
#include "inference/evaluate.h"
#include "inference/model_path.h"

namespace {

const char* const kModelHelp = "a run (its best checkpoint), its export/ or a checkpoint (RUN/checkpoints/step-N)";
const char* const kSplitHelp = "val (default: the training run's held-out split), train or all";

// Where eval/ goes: --out, else the run directory of the model (or the export/checkpoint itself).
std::string out_dir_for(const vlm::cli::Args& args, const std::string& model) {
  if (auto out = args.maybe("--out")) return *out;
  const auto where = vlm::inference::resolve_model_path(model);
  return where.run_dir.empty() ? where.dir : where.run_dir;
}

int run_eval_retrieval(const vlm::cli::Args& args) {
  const std::string model = args.get("--model");
  vlm::inference::RetrievalOptions o;
  o.data_path = args.get("--data");
  o.split = vlm::inference::parse_eval_split(args.get("--split", "val"));
  o.out_dir = out_dir_for(args, model);
  o.max_images = args.get_int("--max-images", 0);
  const auto m = vlm::inference::evaluate_retrieval(model, o);
  std::cout << vlm::eval::run_files::retrieval_json(m).dump() << "\n";
  return 0;
}

std::vector<std::string> read_templates(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw vlm::FileError(path, "cannot be read");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line.find("{}") == std::string::npos) throw vlm::FileError(path, "template '" + line + "' has no {}");
    out.push_back(line);
  }
  if (out.empty()) throw vlm::FileError(path, "holds no template (one per line, {} for the class name)");
  return out;
}

int run_eval_zeroshot(const vlm::cli::Args& args) {
  const std::string model = args.get("--model");
  vlm::inference::ZeroShotOptions o;
  o.data_path = args.get("--data");
  if (auto file = args.maybe("--templates")) o.templates = read_templates(*file);
  o.out_dir = out_dir_for(args, model);
  o.max_images = args.get_int("--max-images", 0);
  const auto r = vlm::inference::evaluate_zeroshot(model, o);
  std::cout << vlm::eval::zeroshot_json(r).dump() << "\n";
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
  vlm::inference::CaptionOptions o;
  o.data_path = args.get("--data");
  o.split = vlm::inference::parse_eval_split(args.get("--split", "val"));
  o.out_dir = out_dir_for(args, model);
  if (auto range = args.maybe("--range")) std::tie(o.begin, o.end) = parse_range(*range);
  o.greedy = !args.has("--sample");
  o.prompt = args.get("--prompt", "");
  const auto r = vlm::inference::evaluate_captions(model, o);
  nlohmann::json out = r.metrics;
  out["images"] = r.images;
  if (!r.attribute_by_objects.empty()) {  // synthetic scenes only
    out["attribute_accuracy"] = r.attribute_accuracy;
    out["by_objects"] = vlm::inference::attribute_breakdown_json(r);
  }
  std::cout << out.dump() << "\n";
  return 0;
}

int run_eval_vqa(const vlm::cli::Args& args) {
  const std::string model = args.get("--model");
  const std::string data = args.get("--data");
  const auto split = vlm::inference::parse_eval_split(args.get("--split", "val"));
  const auto r = vlm::inference::evaluate_vqa(model, data, split, args.get_int("--max-images", 0));
  std::cout << vlm::inference::vqa_json(r).dump() << "\n";
  return 0;
}

const bool kRetrieval = vlm::cli::register_command({
    .name = "eval retrieval",
    .usage = "--model PATH --data PATH [--split val|train|all] [--out DIR] [--max-images N]",
    .summary = "image-text retrieval Recall@1/5/10 both ways over every caption, ranks, the similarity grid (stage 1)",
    .flags = {{.name = "--model", .value_name = "PATH", .help = kModelHelp, .required = true},
              {.name = "--data",
               .value_name = "PATH",
               .help = "dataset (table, img2dataset folder, shards, image folder)",
               .required = true},
              {"--split", "SPLIT", kSplitHelp},
              {"--out", "DIR", "write eval/ here (default: the run directory)"},
              {"--max-images", "N", "use the first N images of the split only"}},
    .run = run_eval_retrieval,
});

const bool kZeroShot = vlm::cli::register_command({
    .name = "eval zeroshot",
    .usage = "--model PATH --data CLASSES [--templates FILE] [--out DIR] [--max-images N]",
    .summary = "zero-shot classification top-1/top-5 and a confusion table, classes named by prompt templates (stage 1)",
    .flags = {{.name = "--model", .value_name = "PATH", .help = kModelHelp, .required = true},
              {.name = "--data",
               .value_name = "CLASSES",
               .help = "a class folder (class_name/*.jpg) or a table whose caption is the class",
               .required = true},
              {"--templates", "FILE", "prompt templates, one per line with {} for the class (default: 7 of OpenCLIP's)"},
              {"--out", "DIR", "write eval/zeroshot.json here (default: the run directory)"},
              {"--max-images", "N", "use the first N images only"}},
    .run = run_eval_zeroshot,
});

const bool kCaptions = vlm::cli::register_command({
    .name = "eval captions",
    .usage = "--model PATH --data PATH [--split val|train|all] [--range BEGIN:END] [--out DIR] [--sample] [--prompt TEXT]",
    .summary = "caption images, write eval/captions.csv and BLEU/ROUGE-L/CIDEr-D (stage 2)",
    .flags = {{.name = "--model", .value_name = "PATH", .help = kModelHelp, .required = true},
              {.name = "--data",
               .value_name = "PATH",
               .help = "dataset with reference captions",
               .required = true},
              {"--split", "SPLIT", kSplitHelp},
              {"--range", "BEGIN:END", "only the split's samples BEGIN..END-1, e.g. 130:160 as the reference"},
              {"--out", "DIR", "write eval/ here (default: the run directory)"},
              {"--sample", "", "sample with the run's generation settings instead of greedy decoding"},
              {"--prompt", "TEXT", "the user prompt (default: the first training prompt)"}},
    .run = run_eval_captions,
});

const bool kVqa = vlm::cli::register_command({
    .name = "eval vqa",
    .usage = "--model PATH --data PATH [--split val|train|all] [--max-images N]",
    .summary = "answer every question of a dataset's samples greedily; exact-match accuracy, overall and by kind",
    .flags = {{.name = "--model", .value_name = "PATH", .help = kModelHelp, .required = true},
              {.name = "--data",
               .value_name = "PATH",
               .help = "dataset whose samples carry question-answer pairs (e.g. the demo's)",
               .required = true},
              {"--split", "SPLIT", kSplitHelp},
              {"--max-images", "N", "use the first N samples only"}},
    .run = run_eval_vqa,
});

}  // namespace
