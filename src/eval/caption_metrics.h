// Caption metrics as the COCO caption evaluation toolkit (pycocoevalcap) computes them:
// BLEU-1..4 (corpus level, closest reference length), ROUGE-L (beta 1.2) and CIDEr-D
// (sigma 6, clipped, x10), all on PTBTokenizer tokens. No torch here.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace vlm::eval {

// image id -> generated caption; image id -> its reference captions (raw text, tokenized here).
using Predictions = std::map<std::string, std::string>;
using References = std::map<std::string, std::vector<std::string>>;

// Scores every predicted image against its references, as pycocoevalcap's COCOEvalCap does
// for the images of the results file: references of images without a prediction take no part
// (not even in CIDEr's document frequencies). Throws vlm::Error when a predicted image has no
// references. Keys: "BLEU-1".."BLEU-4", "ROUGE-L", "CIDEr-D".
std::map<std::string, double> score_captions(const Predictions& predictions, const References& references);

// The same on captions already tokenized (space-joined tokens), for callers that tokenize.
std::map<std::string, double> score_tokenized_captions(const Predictions& predictions,
                                                       const References& references);

// Readers of the JSONL files `vlm eval caption-metrics` takes; errors name file and line.
// Predictions: {"image_id": 1, "caption": "..."} per line (one line per image).
// References:  {"image_id": 1, "captions": ["...", ...]} per line; or "caption": "..." lines,
// several per image, which are gathered. Numeric and string ids are both accepted.
Predictions read_predictions_jsonl(const std::string& path);
References read_references_jsonl(const std::string& path);

}  // namespace vlm::eval
