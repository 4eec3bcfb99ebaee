// Builds the pipeline's modules from a run config, exactly as training built them: the ViT
// (an HF folder, or random for the demo), the Q-Former (from DistilBERT/BERT, from a stage-1
// model, or random) with its tokenizer, the stage-2 VLM (adapter, LM, LoRA), the image
// preprocessing the ViT expects, and the text batches the Q-Former reads. Training and the
// loading of checkpoints (inference/trained_model.h) both build through here.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/preprocess.h"
#include "models/lora.h"
#include "models/qformer.h"
#include "models/vit.h"
#include "models/vlm.h"
#include "tokenizers/tokenizer.h"

namespace vlm::inference {

// vision.path's ViT, else random with the configured sizes. Frozen unless vision.train (stage 1).
models::ViTModel build_vision(const config::RunConfig& config);
// requires_grad and train mode as the config's stage wants them for the ViT.
void freeze_vision(models::ViTModelImpl& vit, const config::RunConfig& config);

// The Q-Former tokenizer: qformer.tokenizer, else qformer.init_from.
tokenizers::Tokenizer load_qformer_tokenizer(const config::RunConfig& config);

// A new Q-Former: initialised from qformer.init_from (DistilBERT/BERT), else random.
models::QFormer build_qformer(const config::RunConfig& config, int64_t vision_width,
                              const tokenizers::Tokenizer& tokenizer);

struct Stage1Parts {
  models::ViTModel vision;
  models::QFormer qformer;
  tokenizers::Tokenizer tokenizer;
};
// The ViT, Q-Former and tokenizer a config starts from: with qformer.checkpoint, that stage-1
// model's (any run, export or checkpoint; its ViT unless vision.path names one), else new ones.
Stage1Parts build_stage1_parts(const config::RunConfig& config);

// Freezes the Q-Former weights its query path never reads (stage 2 reads nothing else).
void freeze_unused_by_queries(models::QFormerImpl& qformer);

models::LoraConfig lora_config_of(const config::RunConfig& config);
// The stage-2 model of a config: vision + Q-Former (stage 1) + a new adapter + the LM with LoRA.
models::VisionLanguageModel build_vlm(const config::RunConfig& config);

// What the ViT in `vit_dir` expects (its preprocessor_config.json), else the defaults at
// image_size (a ViT built from scratch). The same rule as the training loader's.
data::PreprocessConfig vision_preprocess(const std::string& vit_dir, int64_t image_size);

struct TextBatch {
  at::Tensor input_ids;       // (B, T) int64
  at::Tensor attention_mask;  // (B, T) int64, 1 = token
};
// Tokenizes for the Q-Former: special tokens on (a [CLS] first, prepended when the tokenizer's
// post-processor does not add one), truncated to max_length, right-padded to the longest.
TextBatch tokenize_for_qformer(const tokenizers::Tokenizer& tokenizer, const std::vector<std::string>& texts,
                               int64_t max_length);

}  // namespace vlm::inference
