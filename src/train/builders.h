// Builds the pipeline's modules from a run config: the ViT (loaded from an HF folder or
// random for the demo), the Q-Former (from DistilBERT/BERT, from a stage-1 run, or random),
// their tokenizer, and the text batches the Q-Former reads.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "config/run_config.h"
#include "models/qformer.h"
#include "models/vit.h"
#include "tokenizers/tokenizer.h"

namespace vlm::train {

// The vision encoder: vision.path, else a stage-1 export's vision/ folder (a ViT trained from
// scratch there), else random with the configured sizes. Frozen unless vision.train.
models::ViTModel build_vision(const config::RunConfig& config);

// The Q-Former tokenizer: qformer.tokenizer, else qformer.init_from, else the stage-1 export's.
tokenizers::Tokenizer load_qformer_tokenizer(const config::RunConfig& config);

// The Q-Former: from qformer.checkpoint (a stage-1 run or export), else initialised from
// qformer.init_from (DistilBERT/BERT), else random with the configured sizes.
models::QFormer build_qformer(const config::RunConfig& config, int64_t vision_width,
                              const tokenizers::Tokenizer& tokenizer);

// The export folder of a run directory (or the folder itself when it is one).
std::string export_dir_of(const std::string& run_or_export);

struct TextBatch {
  at::Tensor input_ids;       // (B, T) int64
  at::Tensor attention_mask;  // (B, T) int64, 1 = token
};
// Tokenizes for the Q-Former: special tokens on (a [CLS] first, prepended when the tokenizer's
// post-processor does not add one), truncated to max_length, right-padded to the longest.
TextBatch tokenize_for_qformer(const tokenizers::Tokenizer& tokenizer, const std::vector<std::string>& texts,
                               int64_t max_length);

}  // namespace vlm::train
