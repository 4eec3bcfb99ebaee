// Loading and running the served model through train/'s bundle and Q-Former code (see model_host.h).
// Shape letters: N images or texts, Q queries, E embedding width, L prompt positions, D LM width, V vocab.
#include "serve/model_host.h"

#include <torch/torch.h>

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "data/preprocess.h"
#include "data/preprocess_torch.h"
#include "models/qformer.h"
#include "models/vit.h"
#include "tokenizers/tokenizer.h"
#include "train/builders.h"
#include "train/vlm_bundle.h"

namespace fs = std::filesystem;

namespace vlm::serve {

struct ModelHost::Chat {
  train::VlmBundle bundle;
};

struct ModelHost::Embedder {
  models::ViTModel vision{nullptr};
  models::QFormer qformer{nullptr};
  std::unique_ptr<tokenizers::Tokenizer> tokenizer;
  data::PreprocessConfig preprocess;
};

namespace {

bool has_embedder(const std::string& dir) {
  return fs::exists(dir + "/qformer/tokenizer.json") && fs::exists(dir + "/vision/config.json");
}

}  // namespace

ModelHost::ModelHost(const std::string& model, const std::string& embed_model) {
  torch::NoGradGuard no_grad;
  const std::string dir = train::export_dir_of(model);
  if (fs::exists(dir + "/vlm.json")) {
    chat_ = std::make_unique<Chat>(Chat{train::load_vlm_bundle(model)});
    auto& m = *chat_->bundle.model;
    caps_.chat = true;
    caps_.vision = true;
    caps_.context_length = m.lm->config().max_position_embeddings;
    caps_.image_tokens = m.qformer->config().num_query_tokens;
  }
  const std::string embed_dir = embed_model.empty() ? dir : train::export_dir_of(embed_model);
  if (has_embedder(embed_dir)) {
    embed_ = std::make_unique<Embedder>();
    embed_->vision = models::load_vit(embed_dir + "/vision").model;
    embed_->qformer = models::load_qformer(embed_dir + "/qformer").model;
    embed_->tokenizer = std::make_unique<tokenizers::Tokenizer>(tokenizers::Tokenizer::from_path(embed_dir + "/qformer"));
    embed_->vision->eval();
    embed_->qformer->eval();
    embed_->preprocess = data::load_preprocess_config_from_dir(embed_dir + "/vision");
    embed_->preprocess.height = embed_->preprocess.width = static_cast<int>(embed_->vision->config().image_size);
    caps_.embeddings = true;
    caps_.embedding_dim = embed_->qformer->config().embed_dim;
    log::info("embeddings from ", embed_dir);
  } else if (!embed_model.empty()) {
    throw FileError(embed_model, "is not a stage-1 run or export (no qformer/tokenizer.json and vision/)",
                    "pass the run directory of a stage-1 training to --embed-model");
  }
  if (!caps_.chat && !caps_.embeddings) {
    throw FileError(model, "is neither a stage-2 model (vlm.json) nor a stage-1 one (qformer/tokenizer.json)",
                    "pass a run directory, its export/ or a checkpoint of `vlm train`");
  }
}

ModelHost::~ModelHost() = default;

std::vector<int64_t> ModelHost::prompt_ids(const std::vector<tokenizers::ChatMessage>& messages) const {
  const auto& prompts = *chat_->bundle.prompts;
  return prompts.tokenizer().encode(prompts.chat_text(messages), /*add_special_tokens=*/false).ids;
}

std::string ModelHost::default_prompt() const { return chat_ ? chat_->bundle.default_prompt : std::string(); }

models::GenerationConfig ModelHost::generation_defaults() const { return chat_->bundle.generation; }

models::DecoderLMImpl& ModelHost::lm() { return *chat_->bundle.model->lm; }

std::string ModelHost::decode(const std::vector<int64_t>& ids) const { return chat_->bundle.prompts->decode(ids); }

at::Tensor ModelHost::prefill(const std::vector<data::Image>& images, const std::vector<int64_t>& ids,
                              models::KVCache& cache) {
  torch::NoGradGuard no_grad;
  auto& model = *chat_->bundle.model;
  const auto device = model.lm->embed_tokens->weight.device();
  const at::Tensor prompt_ids = torch::tensor(ids, torch::kLong).unsqueeze(0).to(device);  // (1, T)
  at::Tensor embeds = model.lm->embed(prompt_ids);                                          // (1, T, D)
  if (!images.empty()) {
    const at::Tensor pixels = data::to_pixel_values(images, chat_->bundle.preprocess).to(device);  // (N, 3, H, W)
    const at::Tensor image = model.image_tokens(pixels);                                           // (N, Q, D)
    const at::Tensor flat = image.reshape({1, image.size(0) * image.size(1), image.size(2)});     // (1, N Q, D)
    embeds = torch::cat({flat, embeds.to(image.scalar_type())}, 1);                                // (1, L, D)
  }
  const at::Tensor mask = torch::ones({1, embeds.size(1)}, torch::TensorOptions().dtype(at::kLong).device(device));
  cache = model.lm->new_cache();
  const auto out = model.lm->forward({.inputs_embeds = embeds, .attention_mask = mask, .cache = &cache,
                                      .logits_to_keep = 1});
  return out.logits.select(1, -1).to(at::kFloat);  // (1, V)
}

at::Tensor ModelHost::embed_texts(const std::vector<std::string>& texts) {
  torch::NoGradGuard no_grad;
  const auto batch = train::tokenize_for_qformer(*embed_->tokenizer, texts, /*max_length=*/64);
  return embed_->qformer->text_embed(batch.input_ids, batch.attention_mask).to(at::kFloat);  // (N, E)
}

at::Tensor ModelHost::embed_image_queries(const std::vector<data::Image>& images) {
  torch::NoGradGuard no_grad;
  const at::Tensor pixels = data::to_pixel_values(images, embed_->preprocess);  // (N, 3, H, W)
  return embed_->qformer->image_embeds(embed_->vision->forward(pixels)).to(at::kFloat);  // (N, Q, E)
}

at::Tensor ModelHost::pooled(const at::Tensor& query_embeds) {
  return torch::nn::functional::normalize(query_embeds.mean(1),
                                          torch::nn::functional::NormalizeFuncOptions().dim(-1));  // (N, E)
}

at::Tensor ModelHost::similarity(const at::Tensor& image_queries, const at::Tensor& text_embeds) {
  torch::NoGradGuard no_grad;
  return embed_->qformer->similarity(image_queries, text_embeds).to(at::kFloat);  // (Ni, Nt)
}

int64_t ModelHost::count_text_tokens(const std::string& text) const {
  return static_cast<int64_t>(embed_->tokenizer->encode(text, /*add_special_tokens=*/true).ids.size());
}

}  // namespace vlm::serve
