#include "inference/vlm_bundle.h"

#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/runtime.h"
#include "inference/builders.h"
#include "inference/stage1_model.h"
#include "io/atomic_file.h"
#include "io/jsonl.h"
#include "models/peft.h"

namespace fs = std::filesystem;

namespace vlm::inference {
namespace {

std::string absolute(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

void save_vision(models::ViTModelImpl& vision, const std::string& dir) {
  fs::create_directories(dir);
  io::write_file_atomic(dir + "/config.json", vision.config().to_json().dump(2));
  models::save_weights(vision, dir + "/model.safetensors", models::vit_name_table(vision.config()));
}

models::GenerationConfig generation_of(const nlohmann::json& g) {
  models::GenerationConfig out;
  out.max_new_tokens = g.value("max_new_tokens", int64_t{100});
  out.temperature = g.value("temperature", 0.0);
  out.top_p = g.value("top_p", 1.0);
  out.top_k = g.value("top_k", int64_t{0});
  out.repetition_penalty = g.value("repetition_penalty", 1.0);
  return out;
}

nlohmann::json generation_json(const config::GenerationSection& g) {
  return {{"max_new_tokens", g.max_new_tokens},
          {"temperature", g.temperature},
          {"top_p", g.top_p},
          {"top_k", g.top_k},
          {"repetition_penalty", g.repetition_penalty}};
}

}  // namespace

void save_lm_folder(models::DecoderLMImpl& lm, const std::string& tokenizer_from, const std::string& dir) {
  models::save_decoder_merged(lm, dir);
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                           "special_tokens_map.json", "generation_config.json"}) {
    const fs::path src = fs::path(tokenizer_from) / name;
    if (fs::exists(src)) fs::copy_file(src, fs::path(dir) / name, fs::copy_options::overwrite_existing);
  }
}

void export_vlm_bundle(const config::RunConfig& config, models::VisionLanguageModelImpl& model, const std::string& dir) {
  models::save_qformer(model.qformer, dir + "/qformer");
  models::save_adapter(model.adapter, dir + "/adapter");
  const bool lora = config.lm.lora_enabled;
  if (lora) models::save_peft_adapter(*model.lm, lora_config_of(config), dir + "/lora", config.lm.path);
  // The tuned LM itself: the only copy when every weight was trained, else on request (LoRA merged).
  const bool lm_folder = config.lm.full_finetune || (lora && config.lm.export_merged);
  if (lm_folder) save_lm_folder(*model.lm, config.lm.path, dir + "/lm");
  std::string vision = config.vision.path;
  if (vision.empty() || config.vision.train) {
    save_vision(*model.vision, dir + "/vision");  // trained here or in stage 1 (the demo)
    vision = "vision";
  } else {
    vision = absolute(vision);
  }
  const nlohmann::json manifest = {
      {"format", "vlm-bundle/1"},
      {"vision", vision},
      {"lm", config.lm.full_finetune ? std::string("lm") : absolute(config.lm.path)},
      {"lora", lora},
      {"merged_lm", lm_folder ? "lm" : ""},
      {"system_prompt", config.prompt.system},
      {"user_prompt", config.prompt.user.front()},
      {"max_target_tokens", config.prompt.max_target_tokens},
      {"image_size", model.vision->config().image_size},
      {"generation", generation_json(config.generation)}};
  io::write_file_atomic(dir + "/vlm.json", manifest.dump(2));
}

namespace {

// An export folder (vlm.json names the LM and ViT folders and the prompts).
VlmBundle load_export(const ModelPath& where) {
  const std::string& dir = where.dir;
  const std::string manifest_path = dir + "/vlm.json";
  const nlohmann::json m = io::read_json_file(manifest_path);
  std::string vision_dir = m.at("vision").get<std::string>();
  if (!fs::path(vision_dir).is_absolute()) vision_dir = dir + "/" + vision_dir;
  std::string lm_dir = m.at("lm").get<std::string>();
  if (!fs::path(lm_dir).is_absolute()) lm_dir = dir + "/" + lm_dir;
  auto vision = models::load_vit(vision_dir).model;
  auto qformer = models::load_qformer(dir + "/qformer").model;
  auto adapter = models::load_adapter(dir + "/adapter").model;
  auto lm = models::load_decoder(lm_dir).model;
  if (m.value("lora", false)) models::load_peft_adapter(*lm, dir + "/lora");
  VlmBundle bundle;
  bundle.model = models::VisionLanguageModel(std::move(vision), std::move(qformer), std::move(adapter), std::move(lm));
  bundle.prompts = std::make_unique<PromptBuilder>(lm_dir, m.value("system_prompt", std::string()),
                                                   m.value("max_target_tokens", int64_t{64}));
  bundle.preprocess = vision_preprocess(vision_dir, bundle.model->vision->config().image_size);
  bundle.default_prompt = m.value("user_prompt", std::string("Describe this picture."));
  bundle.generation = generation_of(m.at("generation"));
  log::info("loaded VLM from ", dir, " (LM ", lm_dir, ", vision ", vision_dir, ")");
  return bundle;
}

// A checkpoint: the model training built from the saved config, then the trained tensors.
VlmBundle load_checkpoint(const ModelPath& where) {
  const config::RunConfig config = *trained_config(where);
  if (config.train.stage != config::Stage::kStage2) {
    throw FileError(where.dir, str("is a ", config.train.stage, " checkpoint, not a stage-2 model"),
                    "pass a stage-2 run, its export or one of its checkpoints");
  }
  const runtime::ScopedCpuSeed seed(static_cast<uint64_t>(config.run.seed));  // weights left at their init: training's
  VlmBundle bundle;
  bundle.model = build_vlm(config);
  const int64_t n = load_checkpoint_weights(*bundle.model, where.dir);
  log::info("stage 2: ", n, " trained tensors from ", where.describe());
  bundle.prompts = std::make_unique<PromptBuilder>(config.lm.path, config.prompt.system, config.prompt.max_target_tokens);
  bundle.preprocess = vision_preprocess(config.vision.path, bundle.model->vision->config().image_size);
  bundle.default_prompt = config.prompt.user.front();
  bundle.generation = generation_of(generation_json(config.generation));
  return bundle;
}

}  // namespace

VlmBundle load_vlm_bundle(const std::string& path) {
  const ModelPath where = resolve_model_path(path);
  if (where.kind == WeightsKind::kExport && !fs::exists(where.dir + "/vlm.json")) {
    throw FileError(path, "is a stage-1 model, not a stage-2 model (no vlm.json)",
                    "pass a stage-2 run, its export or one of its checkpoints");
  }
  VlmBundle bundle = where.kind == WeightsKind::kCheckpoint ? load_checkpoint(where) : load_export(where);
  bundle.source = where;
  bundle.model->eval();
  for (auto& p : bundle.model->parameters()) p.set_requires_grad(false);
  bundle.generation.eos_token_ids = bundle.prompts->stop_ids();
  bundle.generation.pad_token_id = bundle.prompts->pad_id();
  return bundle;
}

std::vector<std::string> generate_answers(VlmBundle& bundle, const at::Tensor& pixel_values,
                                          const std::vector<std::string>& prompts, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  std::vector<std::string> out;
  const int64_t n = pixel_values.size(0);
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t end = std::min(n, start + batch_size);
    std::vector<PromptTarget> rows;
    for (int64_t i = start; i < end; ++i) rows.push_back({prompts[static_cast<size_t>(i)], ""});
    const TokenBatch t = bundle.prompts->build(rows);
    const auto result = bundle.model->generate(
        {pixel_values.slice(0, start, end), t.prompt_ids, t.prompt_mask, {}, {}}, bundle.generation);
    for (const auto& ids : result.tokens) out.push_back(bundle.prompts->decode(ids));
  }
  return out;
}

}  // namespace vlm::inference
