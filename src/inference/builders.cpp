#include "inference/builders.h"

#include <torch/torch.h>

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "inference/stage1_model.h"
#include "models/peft.h"

namespace vlm::inference {

models::ViTModel build_vision(const config::RunConfig& config) {
  const auto& v = config.vision;
  models::ViTModel vit{nullptr};
  if (!v.path.empty()) {
    vit = models::load_vit(v.path).model;
    log::info("vision: ViT from ", v.path);
  } else {
    models::ViTConfig cfg;
    cfg.image_size = v.image_size;
    cfg.patch_size = v.patch_size;
    cfg.hidden_size = v.hidden_size;
    cfg.num_hidden_layers = v.num_hidden_layers;
    cfg.num_attention_heads = v.num_attention_heads;
    cfg.intermediate_size = v.intermediate_size;
    cfg.initializer_range = v.initializer_range;
    cfg.stem_channels = v.stem_channels;
    cfg.validate();
    vit = models::ViTModel(cfg);
    log::info("vision: random ViT (", cfg.num_hidden_layers, " layers, width ", cfg.hidden_size, ")");
  }
  freeze_vision(*vit, config);
  return vit;
}

void freeze_vision(models::ViTModelImpl& vit, const config::RunConfig& config) {
  const bool train = config.vision.train && config.train.stage == config::Stage::kStage1;  // stage 2: build_vlm decides
  for (auto& p : vit.parameters()) p.set_requires_grad(train);
  vit.train(train);
}

tokenizers::Tokenizer load_qformer_tokenizer(const config::RunConfig& config) {
  const auto& q = config.qformer;
  if (!q.tokenizer.empty()) return tokenizers::Tokenizer::from_path(q.tokenizer);
  if (!q.init_from.empty()) return tokenizers::Tokenizer::from_path(q.init_from);
  throw ConfigError("qformer.tokenizer", "is required when the Q-Former starts from scratch",
                    "point it at a tokenizer folder or tokenizer.json");
}

Stage1Parts build_stage1_parts(const config::RunConfig& config) {
  if (config.qformer.checkpoint.empty()) {
    auto vision = build_vision(config);
    auto tokenizer = load_qformer_tokenizer(config);
    auto qformer = build_qformer(config, vision->config().hidden_size, tokenizer);
    return {std::move(vision), std::move(qformer), std::move(tokenizer)};
  }
  // A stage-1 model (run, export or checkpoint): its Q-Former and tokenizer, and its ViT unless
  // vision.path names one.
  Stage1Model stage1 = load_stage1(config.qformer.checkpoint);
  log::info("qformer: from ", stage1.source.describe());
  stage1.qformer->train();  // load_stage1 hands it over frozen, for inference
  for (auto& p : stage1.qformer->parameters()) p.set_requires_grad(true);
  models::ViTModel vision = config.vision.path.empty() ? stage1.vision : build_vision(config);
  if (config.vision.path.empty()) {
    log::info("vision: the stage-1 model's ViT");
    freeze_vision(*vision, config);
  }
  if (stage1.qformer->config().encoder_width != vision->config().hidden_size) {
    throw ConfigError("qformer.checkpoint", str(stage1.source.describe(), " expects vision features of width ",
                                                stage1.qformer->config().encoder_width, ", the ViT gives ",
                                                vision->config().hidden_size));
  }
  return {std::move(vision), std::move(stage1.qformer), std::move(stage1.tokenizer)};
}

models::QFormer build_qformer(const config::RunConfig& config, int64_t vision_width,
                              const tokenizers::Tokenizer& tokenizer) {
  const auto& q = config.qformer;
  models::QFormerConfig cfg;
  cfg.num_query_tokens = q.num_query_tokens;
  cfg.cross_attention_freq = q.cross_attention_freq;
  cfg.encoder_width = vision_width;
  cfg.embed_dim = q.embed_dim;
  cfg.similarity = q.similarity;
  cfg.query_ffn = q.query_ffn;
  if (!q.init_from.empty()) {
    auto loaded = models::init_qformer_from_text_encoder(cfg, q.init_from);
    log::info("qformer: initialised from ", q.init_from, " (", loaded.report.summary(), ")");
    return loaded.model;
  }
  cfg.text_model_type = "distilbert";
  auto& t = cfg.distilbert;
  t.vocab_size = tokenizer.vocab_size();
  t.pad_token_id = tokenizer.pad_token_id().value_or(0);
  t.dim = q.hidden_size;
  t.n_layers = q.num_hidden_layers;
  t.n_heads = q.num_attention_heads;
  t.hidden_dim = q.intermediate_size;
  t.max_position_embeddings = std::max<int64_t>(q.max_text_length, 8);
  t.dropout = 0.0;
  t.attention_dropout = 0.0;
  t.initializer_range = q.initializer_range;
  cfg.initializer_range = q.initializer_range;
  cfg.validate();
  log::info("qformer: random (", t.n_layers, " layers, width ", t.dim, ", ", cfg.num_query_tokens, " queries)");
  return models::QFormer(cfg);
}

void freeze_unused_by_queries(models::QFormerImpl& qformer) {
  // Which weights the query path reads is whatever one backward pass reaches: a weight without a
  // gradient there (word and position embeddings, the text FFNs beside the query FFNs, the
  // projections and the matching head) gets none in stage 2 either.
  // In eval mode and on constant input, so that no random number is drawn (dropout) and the
  // weights built after this one start as they would without it.
  const torch::AutoGradMode grad(true);  // callers that load for inference hold a NoGradGuard
  const bool was_training = qformer.is_training();
  qformer.eval();
  const at::Tensor feats = torch::ones({1, 2, qformer.config().encoder_width});  // (B, P, Dv)
  qformer.forward_image(feats).sum().backward();
  qformer.train(was_training);
  int64_t frozen = 0;
  for (auto& p : qformer.parameters()) {
    if (p.requires_grad() && !p.grad().defined()) {
      p.set_requires_grad(false);
      frozen += p.numel();
    }
    p.mutable_grad() = at::Tensor();
  }
  log::info("qformer: ", frozen, " parameters the queries never read are frozen");
}

models::LoraConfig lora_config_of(const config::RunConfig& config) {
  models::LoraConfig lora;
  lora.r = config.lm.lora.r;
  lora.lora_alpha = config.lm.lora.alpha;
  lora.lora_dropout = config.lm.lora.dropout;
  lora.target_modules = config.lm.lora.target_modules;
  lora.use_rslora = config.lm.lora.use_rslora;
  lora.validate();
  return lora;
}

models::VisionLanguageModel build_vlm(const config::RunConfig& config) {
  Stage1Parts parts = build_stage1_parts(config);
  freeze_unused_by_queries(*parts.qformer);
  auto lm = models::load_decoder(config.lm.path).model;
  for (auto& p : lm->parameters()) p.set_requires_grad(config.lm.full_finetune);
  if (config.lm.full_finetune) log::info("lm: every weight trained (lm.full_finetune)");
  if (config.lm.lora_enabled) {
    const auto wrapped = models::apply_lora(*lm, lora_config_of(config));
    log::info("lm: LoRA r=", config.lm.lora.r, " alpha=", config.lm.lora.alpha, " on ", wrapped.size(), " linear layers");
  }
  models::AdapterConfig acfg;
  acfg.input_size = parts.qformer->config().hidden_size();
  acfg.hidden_size = lm->config().hidden_size;
  acfg.output_size = lm->config().hidden_size;
  models::VisionLanguageModel vlm(std::move(parts.vision), std::move(parts.qformer), models::Adapter(acfg),
                                  std::move(lm));
  if (config.vision.train) {
    vlm->set_train_vision(true);
    log::info("vision: trained in stage 2 as well (vision.train)");
  }
  return vlm;
}

data::PreprocessConfig vision_preprocess(const std::string& vit_dir, int64_t image_size) {
  if (!vit_dir.empty() && std::filesystem::exists(vit_dir + "/preprocessor_config.json")) {
    return data::load_preprocess_config_from_dir(vit_dir);
  }
  data::PreprocessConfig p;
  p.height = p.width = static_cast<int>(image_size);
  p.crop_height = p.crop_width = static_cast<int>(image_size);
  return p;
}

TextBatch tokenize_for_qformer(const tokenizers::Tokenizer& tokenizer, const std::vector<std::string>& texts,
                               int64_t max_length) {
  const auto cls = tokenizer.token_to_id("[CLS]");
  const int64_t pad = tokenizer.pad_token_id().value_or(0);
  std::vector<std::vector<int64_t>> rows;
  size_t longest = 1;
  for (const auto& text : texts) {
    std::vector<int64_t> ids = tokenizer.encode(text, /*add_special_tokens=*/true).ids;
    if (cls && (ids.empty() || ids.front() != *cls)) ids.insert(ids.begin(), *cls);
    if (static_cast<int64_t>(ids.size()) > max_length) ids.resize(static_cast<size_t>(max_length));
    longest = std::max(longest, ids.size());
    rows.push_back(std::move(ids));
  }
  const auto B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(longest);
  auto ids = torch::full({B, T}, pad, torch::kLong);
  auto mask = torch::zeros({B, T}, torch::kLong);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    for (size_t t = 0; t < rows[b].size(); ++t) {
      ids_a[b][static_cast<int64_t>(t)] = rows[b][t];
      mask_a[b][static_cast<int64_t>(t)] = 1;
    }
  }
  return {ids, mask};
}

}  // namespace vlm::inference
