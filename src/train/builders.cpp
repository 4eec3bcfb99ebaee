#include "train/builders.h"

#include <torch/torch.h>

#include <filesystem>

#include "core/error.h"
#include "core/log.h"

namespace fs = std::filesystem;

namespace vlm::train {

std::string export_dir_of(const std::string& path) {
  if (fs::exists(path + "/export")) return path + "/export";
  return path;
}

models::ViTModel build_vision(const config::RunConfig& config) {
  const auto& v = config.vision;
  models::ViTModel vit{nullptr};
  std::string stage1_vision;
  if (!config.qformer.checkpoint.empty()) stage1_vision = export_dir_of(config.qformer.checkpoint) + "/vision";
  if (!v.path.empty()) {
    vit = models::load_vit(v.path).model;
    log::info("vision: ViT from ", v.path);
  } else if (!stage1_vision.empty() && fs::exists(stage1_vision + "/config.json")) {
    vit = models::load_vit(stage1_vision).model;
    log::info("vision: ViT trained in stage 1, from ", stage1_vision);
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
  const bool train = v.train && config.train.stage == config::Stage::kStage1;  // stage 2: build_vlm decides
  for (auto& p : vit->parameters()) p.set_requires_grad(train);
  vit->train(train);
  return vit;
}

tokenizers::Tokenizer load_qformer_tokenizer(const config::RunConfig& config) {
  const auto& q = config.qformer;
  if (!q.tokenizer.empty()) return tokenizers::Tokenizer::from_path(q.tokenizer);
  if (!q.checkpoint.empty()) {
    const std::string dir = export_dir_of(q.checkpoint) + "/qformer";
    if (fs::exists(dir + "/tokenizer.json") || fs::exists(dir + "/vocab.txt")) {
      return tokenizers::Tokenizer::from_path(dir);
    }
  }
  if (!q.init_from.empty()) return tokenizers::Tokenizer::from_path(q.init_from);
  throw ConfigError("qformer.tokenizer", "is required when the Q-Former starts from scratch",
                    "point it at a tokenizer folder or tokenizer.json");
}

models::QFormer build_qformer(const config::RunConfig& config, int64_t vision_width,
                              const tokenizers::Tokenizer& tokenizer) {
  const auto& q = config.qformer;
  if (!q.checkpoint.empty()) {
    const std::string dir = export_dir_of(q.checkpoint) + "/qformer";
    auto loaded = models::load_qformer(dir);
    log::info("qformer: from ", dir);
    if (loaded.config.encoder_width != vision_width) {
      throw ConfigError("qformer.checkpoint", str(dir, " expects vision features of width ",
                                                  loaded.config.encoder_width, ", the ViT gives ", vision_width));
    }
    return loaded.model;
  }
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

}  // namespace vlm::train
