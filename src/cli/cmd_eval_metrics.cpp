// `vlm eval caption-metrics --predictions P.jsonl --references R.jsonl`: BLEU-1..4, ROUGE-L
// and CIDEr-D as pycocoevalcap computes them, printed as one JSON object.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "eval/caption_metrics.h"
#include "eval/run_files.h"

namespace {

int run_caption_metrics(const vlm::cli::Args& args) {
  const std::string predictions = args.get("--predictions");
  const std::string references = args.get("--references");
  const auto scores = vlm::eval::score_captions(vlm::eval::read_predictions_jsonl(predictions),
                                                vlm::eval::read_references_jsonl(references));
  if (const auto out = args.maybe("--out")) vlm::eval::run_files::write_caption_metrics(*out, scores);
  std::cout << nlohmann::json(scores).dump() << "\n";
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "eval caption-metrics",
    .usage = "--predictions P.jsonl --references R.jsonl [--out FILE.json]",
    .summary = "BLEU-1..4, ROUGE-L and CIDEr-D of generated captions, as pycocoevalcap computes them",
    .flags = {{.name = "--predictions", .value_name = "FILE",
               .help = "JSONL lines {\"image_id\": ..., \"caption\": \"...\"}", .required = true},
              {.name = "--references", .value_name = "FILE",
               .help = "JSONL lines {\"image_id\": ..., \"captions\": [\"...\", ...]}", .required = true},
              {"--out", "FILE", "also write the scores there, e.g. RUN/eval/caption_metrics.json"}},
    .run = run_caption_metrics,
});

}  // namespace
