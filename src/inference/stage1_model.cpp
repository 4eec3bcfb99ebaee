#include "inference/stage1_model.h"

#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/runtime.h"
#include "inference/builders.h"
#include "io/atomic_file.h"
#include "io/jsonl.h"
#include "io/tensor_store.h"
#include "models/alignment.h"
#include "models/weights.h"

namespace fs = std::filesystem;

namespace vlm::inference {
namespace {

constexpr const char* kStage1Format = "vlm-stage1/1";

// An export folder: qformer/ with its tokenizer, the ViT in vision/ or named by stage1.json, else
// (exports written before stage1.json) by the run's config.
Stage1Model load_export(const ModelPath& where) {
  std::optional<config::RunConfig> config = trained_config(where);
  std::string vision_dir = where.dir + "/vision";
  int64_t max_text_length = config ? config->qformer.max_text_length : 64;
  if (fs::exists(where.dir + "/stage1.json")) {
    const auto m = io::read_json_file(where.dir + "/stage1.json");
    vision_dir = m.at("vision").get<std::string>();
    if (!fs::path(vision_dir).is_absolute()) vision_dir = where.dir + "/" + vision_dir;
    max_text_length = m.value("max_text_length", max_text_length);
  } else if (!fs::exists(vision_dir + "/config.json")) {
    if (!config || config->vision.path.empty()) {
      throw FileError(where.dir, "names no ViT (no vision/ folder, no stage1.json, no run config.yaml beside it)",
                      "pass the run directory, or copy the ViT folder into " + where.dir + "/vision");
    }
    vision_dir = config->vision.path;
  }
  auto vision = models::load_vit(vision_dir).model;
  auto qformer = models::load_qformer(where.dir + "/qformer").model;
  auto tokenizer = tokenizers::Tokenizer::from_path(where.dir + "/qformer");
  const int64_t image_size = vision->config().image_size;
  return {std::move(vision), std::move(qformer), std::move(tokenizer), vision_preprocess(vision_dir, image_size),
          max_text_length, where, std::move(config)};
}

// A checkpoint: the model training built from the saved config, then the trained tensors.
Stage1Model load_checkpoint(const ModelPath& where) {
  config::RunConfig config = *trained_config(where);
  if (config.train.stage != config::Stage::kStage1) {
    throw FileError(where.dir, str("is a ", config.train.stage, " checkpoint, not a stage-1 model"),
                    "pass a stage-1 run, its export or one of its checkpoints");
  }
  const runtime::ScopedCpuSeed seed(static_cast<uint64_t>(config.run.seed));  // weights left at their init: training's
  Stage1Parts parts = build_stage1_parts(config);
  const int64_t image_size = parts.vision->config().image_size;
  models::AlignmentModel model(parts.vision, parts.qformer, config.train.temperature, /*learn_temperature=*/false,
                               /*itg_vocab=*/0);
  const int64_t n = load_checkpoint_weights(*model, where.dir, models::is_stage1_training_head);
  log::info("stage 1: ", n, " trained tensors from ", where.describe());
  return {std::move(parts.vision), std::move(parts.qformer), std::move(parts.tokenizer),
          vision_preprocess(config.vision.path, image_size), config.qformer.max_text_length, where,
          std::move(config)};
}

}  // namespace

at::Tensor Stage1Model::embed_images(const at::Tensor& pixel_values) {
  return qformer->image_embeds(models::vision_features(*vision, pixel_values));  // (B, Q, E)
}

at::Tensor Stage1Model::embed_texts(const std::vector<std::string>& texts) {
  const TextBatch t = tokenize_for_qformer(tokenizer, texts, max_text_length);
  const c10::Device device = qformer->parameters().front().device();
  return qformer->text_embed(t.input_ids.to(device), t.attention_mask.to(device));  // (T, E)
}

at::Tensor Stage1Model::similarity(const at::Tensor& image_embeds, const at::Tensor& text_embeds) const {
  return qformer->similarity(image_embeds, text_embeds);  // (Bi, Bt)
}

Stage1Model load_stage1(const std::string& path) {
  const ModelPath where = resolve_model_path(path);
  if (where.kind == WeightsKind::kExport && fs::exists(where.dir + "/vlm.json")) {
    throw FileError(path, "is a stage-2 model (vlm.json), not a stage-1 model",
                    "pass the stage-1 run it was trained from (its qformer.checkpoint)");
  }
  Stage1Model m = where.kind == WeightsKind::kCheckpoint ? load_checkpoint(where) : load_export(where);
  m.vision->eval();
  m.qformer->eval();
  for (auto& p : m.vision->parameters()) p.set_requires_grad(false);
  for (auto& p : m.qformer->parameters()) p.set_requires_grad(false);
  return m;
}

int64_t load_checkpoint_weights(torch::nn::Module& module, const std::string& checkpoint_dir,
                                bool (*ignore)(const std::string& name)) {
  const std::string file = checkpoint_dir + "/model.safetensors";
  const auto store = io::TensorStore::open(file);
  std::map<std::string, at::Tensor> params;
  for (const auto& item : module.named_parameters()) params.emplace(item.key(), item.value());
  std::vector<std::string> problems;
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;  // (parameter, stored)
  for (const auto& name : store.names()) {
    if (ignore != nullptr && ignore(name)) continue;
    const auto it = params.find(name);
    if (it == params.end()) {
      problems.push_back("unexpected tensor " + name);
      continue;
    }
    const at::Tensor stored = store.get(name);
    if (stored.sizes() != it->second.sizes()) {
      problems.push_back(vlm::str(name, " has shape ", stored.sizes(), ", the model expects ", it->second.sizes()));
      continue;
    }
    copies.emplace_back(it->second, stored);
  }
  for (const auto& [name, p] : params) {
    if (p.requires_grad() && !store.contains(name)) problems.push_back("missing trained tensor " + name);
  }
  if (!problems.empty()) {
    std::string list;
    for (size_t i = 0; i < problems.size() && i < 8; ++i) list += (i ? "; " : "") + problems[i];
    if (problems.size() > 8) list += str("; and ", problems.size() - 8, " more");
    throw FileError(file, "does not match the model its config.yaml builds: " + list,
                    "the checkpoint was written by another version or config; use the run's export/");
  }
  torch::NoGradGuard no_grad;
  for (auto& [param, stored] : copies) param.copy_(stored);
  return static_cast<int64_t>(copies.size());
}

void export_stage1(const config::RunConfig& config, models::ViTModelImpl& vision, const models::QFormer& qformer,
                   const tokenizers::Tokenizer& tokenizer, const std::string& dir) {
  models::save_qformer(qformer, dir + "/qformer");
  tokenizer.save(dir + "/qformer/tokenizer.json");
  std::string vision_ref = config.vision.path.empty() ? "" : fs::absolute(config.vision.path).lexically_normal().string();
  if (vision.parameters().front().requires_grad() || config.vision.path.empty()) {
    // A ViT trained here (the demo) travels with the Q-Former in HF layout.
    fs::create_directories(dir + "/vision");
    io::write_file_atomic(dir + "/vision/config.json", vision.config().to_json().dump(2));
    models::save_weights(vision, dir + "/vision/model.safetensors", models::vit_name_table(vision.config()));
    vision_ref = "vision";
  }
  const nlohmann::json manifest = {{"format", kStage1Format},
                                   {"vision", vision_ref},
                                   {"max_text_length", config.qformer.max_text_length}};
  io::write_file_atomic(dir + "/stage1.json", manifest.dump(2));
}

}  // namespace vlm::inference
