// A trained stage-1 model (ViT + Q-Former + its tokenizer) loaded from any run, export or
// checkpoint, and what it does at inference: embed images and texts into the shared space.
// Used by retrieval and zero-shot evaluation, by stage 2 (qformer.checkpoint) and by the server.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/preprocess.h"
#include "inference/model_path.h"
#include "models/qformer.h"
#include "models/vit.h"
#include "tokenizers/tokenizer.h"

namespace vlm::inference {

struct Stage1Model {
  models::ViTModel vision;
  models::QFormer qformer;
  tokenizers::Tokenizer tokenizer;
  data::PreprocessConfig preprocess;  // what the ViT expects
  int64_t max_text_length = 64;
  ModelPath source;
  std::optional<config::RunConfig> config;  // as trained, when known

  // Normalised query embeddings (B, Q, E) of preprocessed images (B, 3, H, W).
  at::Tensor embed_images(const at::Tensor& pixel_values);
  // Normalised text embeddings (T, E).
  at::Tensor embed_texts(const std::vector<std::string>& texts);
  // (Bi, Q, E) x (Bt, E) -> (Bi, Bt) with the Q-Former's similarity rule (mean or max).
  at::Tensor similarity(const at::Tensor& image_embeds, const at::Tensor& text_embeds) const;
};

// A stage-1 run directory (its best checkpoint, else its export, else its latest checkpoint), its
// export/, or any checkpoint. In eval mode, frozen. A checkpoint is rebuilt from the config.yaml
// saved with it (the same ViT and initial Q-Former as training) and its trained tensors are
// loaded strictly: every trainable weight found with its shape, every tensor in the file used or
// known to be a training head.
Stage1Model load_stage1(const std::string& path);

// The trained tensors of a checkpoint (model.safetensors: the parameters that were trainable)
// copied into `module`, whose parameter names are the checkpoint's. Tensors whose name satisfies
// `ignore` are skipped; any other unknown or mis-shaped tensor, and any trainable parameter of
// `module` the file lacks, is an error naming the file. Returns the number of tensors loaded.
int64_t load_checkpoint_weights(torch::nn::Module& module, const std::string& checkpoint_dir,
                                bool (*ignore)(const std::string& name) = nullptr);

// Writes a stage-1 export into `dir`: qformer/ (config.json, model.safetensors, tokenizer.json),
// vision/ when the ViT was trained here (or built from scratch), and stage1.json naming the ViT
// folder otherwise (absolute), so the export alone is a usable model.
void export_stage1(const config::RunConfig& config, models::ViTModelImpl& vision, const models::QFormer& qformer,
                   const tokenizers::Tokenizer& tokenizer, const std::string& dir);

}  // namespace vlm::inference
