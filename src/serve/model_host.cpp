// Loading and running the served model through the inference layer (see model_host.h).
// Shape letters: N images or texts, Q queries, E embedding width, L prompt positions, D LM width, V vocab.
#include "serve/model_host.h"

#include <torch/torch.h>

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "data/preprocess_torch.h"
#include "inference/model_path.h"
#include "inference/stage1_model.h"
#include "inference/vlm_bundle.h"

namespace fs = std::filesystem;

namespace vlm::serve {

struct ModelHost::Chat {
  inference::VlmBundle bundle;
};

struct ModelHost::Embedder {
  inference::Stage1Model model;
};

namespace {

bool is_stage2(const inference::ModelPath& where) {
  if (where.kind == inference::WeightsKind::kExport) return fs::exists(where.dir + "/vlm.json");
  const auto config = inference::trained_config(where);
  return config && config->train.stage == config::Stage::kStage2;
}

}  // namespace

ModelHost::ModelHost(const std::string& model, const std::string& embed_model) {
  torch::NoGradGuard no_grad;
  const inference::ModelPath where = inference::resolve_model_path(model);
  if (is_stage2(where)) {
    chat_ = std::make_unique<Chat>(Chat{inference::load_vlm_bundle(model)});
    auto& m = *chat_->bundle.model;
    caps_.chat = true;
    caps_.vision = true;
    caps_.context_length = m.lm->config().max_position_embeddings;
    caps_.image_tokens = m.qformer->config().num_query_tokens;
  }
  // Embeddings: --embed-model, else the model itself when it is a stage-1 model.
  const std::string embed_path = !embed_model.empty() ? embed_model : chat_ ? std::string() : model;
  if (!embed_path.empty()) {
    embed_ = std::make_unique<Embedder>(Embedder{inference::load_stage1(embed_path)});
    caps_.embeddings = true;
    caps_.embedding_dim = embed_->model.qformer->config().embed_dim;
    log::info("embeddings from ", embed_->model.source.describe());
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
  return embed_->model.embed_texts(texts).to(at::kFloat);  // (N, E)
}

at::Tensor ModelHost::embed_image_queries(const std::vector<data::Image>& images) {
  torch::NoGradGuard no_grad;
  const at::Tensor pixels = data::to_pixel_values(images, embed_->model.preprocess);  // (N, 3, H, W)
  return embed_->model.embed_images(pixels).to(at::kFloat);                            // (N, Q, E)
}

at::Tensor ModelHost::pooled(const at::Tensor& query_embeds) {
  return torch::nn::functional::normalize(query_embeds.mean(1),
                                          torch::nn::functional::NormalizeFuncOptions().dim(-1));  // (N, E)
}

at::Tensor ModelHost::similarity(const at::Tensor& image_queries, const at::Tensor& text_embeds) {
  torch::NoGradGuard no_grad;
  return embed_->model.similarity(image_queries, text_embeds).to(at::kFloat);  // (Ni, Nt)
}

int64_t ModelHost::count_text_tokens(const std::string& text) const {
  return static_cast<int64_t>(embed_->model.tokenizer.encode(text, /*add_special_tokens=*/true).ids.size());
}

}  // namespace vlm::serve
