// A trained VLM on disk and back: the export folder a stage-2 run writes (Q-Former and
// adapter as safetensors + config.json, LoRA in PEFT's format, the ViT when it was trained
// here, the LM as an HF folder when fully tuned or asked for merged, vlm.json naming the LM
// and ViT folders and the prompts) and loading it for `vlm caption` and evaluation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/preprocess.h"
#include "inference/model_path.h"
#include "inference/vlm_prompts.h"
#include "models/vlm.h"

namespace vlm::inference {

// The LM as a plain HF folder in DIR: config.json, model.safetensors with any LoRA merged in, and
// the tokenizer files of the folder it came from.
void save_lm_folder(models::DecoderLMImpl& lm, const std::string& tokenizer_from, const std::string& dir);

void export_vlm_bundle(const config::RunConfig& config, models::VisionLanguageModelImpl& model, const std::string& dir);

struct VlmBundle {
  models::VisionLanguageModel model{nullptr};
  std::unique_ptr<PromptBuilder> prompts;
  data::PreprocessConfig preprocess;
  std::string default_prompt;     // the first training prompt
  models::GenerationConfig generation;
  ModelPath source;               // where it was loaded from
};

// A stage-2 run directory (its best checkpoint, else its export, else its latest checkpoint), its
// export/, or any checkpoint (rebuilt from the config.yaml saved with it, the trained tensors
// loaded strictly). In eval mode, frozen.
VlmBundle load_vlm_bundle(const std::string& path);

// Generates one answer per image for `prompts` (one per image), in batches.
std::vector<std::string> generate_answers(VlmBundle& bundle, const at::Tensor& pixel_values,
                                          const std::vector<std::string>& prompts, int64_t batch_size = 32);

}  // namespace vlm::inference
