#include "train/stage1_task.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "core/runtime.h"
#include "core/torch_compat.h"
#include "io/atomic_file.h"
#include "models/weights.h"
#include "inference/builders.h"
#include "inference/stage1_model.h"
#include "train/distributed.h"
#include "train/losses.h"
#include "train/negative_captions.h"
#include "train/precision.h"

namespace fs = std::filesystem;

namespace vlm::train {
namespace {

// (B, T) -> (B, T') padded on the right with `value`, T' the longest T of any rank: all_gather
// needs one shape everywhere, and each rank pads its captions only to its own longest.
at::Tensor pad_to_longest_rank(const at::Tensor& t, int64_t value, const Distributed& dist) {
  const at::Tensor lengths = dist.all_gather(torch::full({1}, t.size(1), t.options()));  // (world,)
  const int64_t longest = lengths.max().item<int64_t>();
  return longest == t.size(1) ? t : torch::constant_pad_nd(t, {0, longest - t.size(1)}, value);  // (B, T')
}

}  // namespace

at::Tensor Stage1Task::logit_scale() const {
  if (model_->log_scale.defined()) return learned_logit_scale(model_->log_scale);
  return torch::full({}, 1.0 / model_->fixed_temperature);
}

Stage1Task::Stage1Task(const config::RunConfig& config, Distributed* dist)
    : Stage1Task(config, dist, inference::build_stage1_parts(config)) {}

Stage1Task::Stage1Task(const config::RunConfig& config, Distributed* dist, inference::Stage1Parts parts)
    : config_(config), dist_(dist), device_(runtime::parse_device(config.run.device)),
      tokenizer_(std::move(parts.tokenizer)),
      negative_words_(config::WordGroups::parse(config.train.negative_words)) {
  if (config.train.tag_weight > 0) {
    tags_ = CaptionTags::build(training_captions(config), config.train.tag_vocab_size, config.train.tag_min_count);
    if (tags_.size() == 0)
      throw ConfigError("train.tag_min_count", str("leaves no tags: no word of the training captions in ",
                                                   config.data.path, " appears in ", config.train.tag_min_count,
                                                   " of them"));
    log::info("stage 1: ", tags_.size(), " caption tags, e.g. '", tags_.tags().front(), "', '", tags_.tags().back(), "'");
  }
  auto& vision = parts.vision;
  auto& qformer = parts.qformer;
  const int64_t tag_width =
      config.train.tag_source == config::TagSource::kQueries ? qformer->config().hidden_size() : vision->config().hidden_size;
  model_ = models::AlignmentModel(std::move(vision), std::move(qformer), config.train.temperature,
                          config.train.learn_temperature,
                          config.train.itg_weight > 0 ? tokenizer_.vocab_size() : int64_t{0},
                          tags_.size() > 0 ? tags_.prior_logits() : at::Tensor(), tag_width);
  model_->to(device_);
  data_ = open_task_data(config, model_->vision, device_, dist, "stage 1");
  store_frozen_in_bf16(config, device_, *model_);
}

Stage1Task::~Stage1Task() = default;

std::vector<ParamRule> Stage1Task::param_rules() const {
  // The reference: cross-attention blocks and query tokens at lr, the rest of the Q-Former at
  // lr x lr_other_mult. A ViT trained from scratch (the demo) and the temperature run at lr.
  return {
      {.label = "cross_attention_and_queries",
       .pattern = R"(^qformer\.(query_tokens$|.*\.crossattention\.|.*\.ca_layer_norm\.))"},
      {.label = "vision", .pattern = R"(^vision\.)"},
      {.label = "temperature", .pattern = R"(^log_scale$)", .weight_decay = 0.0},
      {.label = "itg_head", .pattern = R"(^itg_head\.)"},
      {.label = "tag_head", .pattern = R"(^tag_head\.)"},
      {.label = "qformer_other", .pattern = R"(^qformer\.)", .lr_scale = config_.train.lr_other_mult},
  };
}

ContrastiveOutput Stage1Task::contrastive(const at::Tensor& image, const at::Tensor& txt,
                                          const Distributed* dist, ContrastiveOptions twins) const {
  // The Q-Former's similarity rule: (B, E) pooled queries, or (B, Q, E) for the loss's max over queries.
  const at::Tensor image_for_loss = model_->qformer->pooled_image_embeds(image);
  ContrastiveOptions options = std::move(twins);
  options.temperature = config_.train.temperature;
  if (model_->log_scale.defined()) options.logit_scale = logit_scale();
  return contrastive_loss(image_for_loss, txt, options, dist);
}

at::Tensor Stage1Task::image_features(const ImageTextBatch& batch) {
  // Cached rows are stored in bf16/fp16 (or fp32); upcasting is exact, and autocast casts down
  // again where the run computes in bf16, as it would the ViT's own output.
  if (batch.features.defined()) return to_device(batch.features, device_).to(torch::kFloat);  // (B, 1 + P, Dv)
  return model_->vision_features(to_device(batch.pixel_values, device_));  // (B, 1 + P, Dv)
}

ContrastiveOptions Stage1Task::twin_embeddings(const std::vector<std::string>& captions, int64_t step) {
  ContrastiveOptions twins;
  if (negative_words_.empty()) return twins;
  // Seeded by the run and the step only: a caption gets the same twin on every rank.
  const uint64_t seed = static_cast<uint64_t>(config_.run.seed) * 1000003ull + static_cast<uint64_t>(step);
  std::vector<std::string> texts;
  std::vector<uint8_t> valid;
  for (const std::string& caption : captions) {
    std::optional<std::string> twin = negative_caption(caption, negative_words_, seed);
    valid.push_back(twin.has_value() ? 1 : 0);
    texts.push_back(twin.value_or(caption));  // no twin: the caption fills the row, negative_valid masks it
  }
  const auto text = inference::tokenize_for_qformer(tokenizer_, texts, config_.qformer.max_text_length);
  twins.negative_text_embeds =
      model_->qformer->text_embed(to_device(text.input_ids, device_), to_device(text.attention_mask, device_));
  twins.negative_valid = to_device(torch::tensor(valid, torch::kBool), device_);
  return twins;
}

Stage1Task::Losses Stage1Task::losses(const ImageTextBatch& batch, int64_t step) {
  const auto text = inference::tokenize_for_qformer(tokenizer_, batch.captions, config_.qformer.max_text_length);
  const auto ids = to_device(text.input_ids, device_), mask = to_device(text.attention_mask, device_);
  compat::AutocastGuard autocast(device_.type(), use_bf16(config_, device_));
  const at::Tensor feats = image_features(batch);                    // (B, 1 + P, Dv)
  const at::Tensor queries = model_->qformer->forward_image(feats);  // (B, Q, D)
  const at::Tensor image = model_->qformer->project_queries(queries);  // (B, Q, E)
  const at::Tensor txt = model_->qformer->text_embed(ids, mask);       // (B, E)
  const ContrastiveOutput itc = contrastive(image, txt, dist_, twin_embeddings(batch.captions, step));
  Losses out{/*total=*/itc.loss, /*itc=*/itc.loss, {}, {}, {}};
  if (tags_.size() > 0) {
    // Each tag is read from the query (or patch) that shows it best: one object each is enough.
    const bool patches = config_.train.tag_source == config::TagSource::kVisionPatches;
    const at::Tensor tokens = patches ? feats.slice(1, 1) : queries;                  // (B, P or Q, W)
    const at::Tensor logits = std::get<0>(model_->tag_head->forward(tokens).max(1));  // (B, K)
    out.tag = tag_loss(logits, to_device(tags_.targets(batch.captions), device_));
    out.total = out.total + config_.train.tag_weight * out.tag;
  }
  if (config_.train.itm_weight > 0) {
    // Negatives are a function of the step and of which samples meet, not of the rank: samples
    // are named by a hash of their keys, gathered in the same order as the embeddings.
    const uint64_t seed = static_cast<uint64_t>(config_.run.seed) * 1000003ull + static_cast<uint64_t>(step) * 7919ull;
    std::vector<int64_t> key_hashes;
    for (const std::string& key : batch.keys) key_hashes.push_back(static_cast<int64_t>(stable_hash(key, 0)));
    at::Tensor sample_ids = torch::tensor(key_hashes, torch::kLong);  // (B,)
    // Hard negatives are drawn from the gathered batch; with one process that is this batch.
    const bool gather = dist_ && dist_->enabled();
    if (gather) sample_ids = dist_->all_gather(sample_ids.to(device_)).cpu();  // (G,)
    const ItmPlan plan = sample_itm_negatives(itc, seed, sample_ids);
    // A ViT trained here gets the ITM gradient of every rank's rows, as on one process.
    const at::Tensor feats_all =
        !gather ? feats : feats.requires_grad() ? dist_->all_gather_with_grad(feats) : dist_->all_gather(feats);
    const at::Tensor ids_all =
        gather ? dist_->all_gather(pad_to_longest_rank(ids, tokenizer_.pad_token_id().value_or(0), *dist_)) : ids;
    const at::Tensor mask_all = gather ? dist_->all_gather(pad_to_longest_rank(mask, 0, *dist_)) : mask;
    const at::Tensor logits = model_->qformer->itm_logits(feats_all.index_select(0, plan.image_index),
                                                          ids_all.index_select(0, plan.text_index),
                                                          mask_all.index_select(0, plan.text_index));  // (3B, 2)
    out.itm = itm_loss(logits, plan.labels);
    out.total = out.total + config_.train.itm_weight * out.itm;
  }
  if (config_.train.itg_weight > 0) {
    // Image-grounded captioning: text tokens predict the next one, attending to the queries.
    const models::QFormerOutput o = model_->qformer->forward_causal(feats, ids, mask);
    const at::Tensor logits = model_->itg_head->forward(o.text);  // (B, T, V)
    const at::Tensor labels = ids.masked_fill(mask == 0, kIgnoreIndex);
    // Normalised by the supervised tokens of every rank (as stage 2's caption loss): the trainer
    // averages gradients over ranks, so the world size turns that mean back into a sum.
    const at::Tensor tokens = count_supervised_tokens(labels);
    const double ranks = sum_tokens_across_ranks(tokens, dist_);
    out.itg = causal_lm_loss(logits, labels, tokens.clamp_min(1)) * ranks;
    out.total = out.total + config_.train.itg_weight * out.itg;
  }
  return out;
}

StepResult Stage1Task::forward_backward(int64_t step, int64_t grad_accum) {
  model_->train();
  StepResult result;
  // Losses stay on the device (no sync per micro-batch); the trainer reads them at log time.
  at::Tensor total = torch::zeros({}, torch::TensorOptions(torch::kFloat).device(device_));
  std::map<std::string, at::Tensor> parts;
  for (int64_t micro = 0; micro < grad_accum; ++micro) {
    const ImageTextBatch batch = data_.train->next();
    Losses l = losses(batch, step);
    (l.total / static_cast<double>(grad_accum)).backward();
    total += l.total.detach().to(torch::kFloat) / static_cast<double>(grad_accum);
    auto add = [&](const char* name, const at::Tensor& v) {
      if (!v.defined()) return;
      const auto scaled = v.detach().to(torch::kFloat) / static_cast<double>(grad_accum);
      parts[name] = parts.count(name) ? parts[name] + scaled : scaled;
    };
    add("loss_itc", l.itc);
    add("loss_itm", l.itm);
    add("loss_itg", l.itg);
    add("loss_tag", l.tag);
    result.samples += batch.size();
  }
  result.loss = total;
  if (parts.size() > 1) result.extra = parts;
  if (model_->log_scale.defined()) result.extra["temperature"] = 1.0 / logit_scale().detach();
  return result;
}

void Stage1Task::after_optimizer_step() {
  if (model_->log_scale.defined()) clamp_log_scale_(model_->log_scale);
}

std::map<std::string, double> Stage1Task::evaluate(int64_t step) {
  torch::NoGradGuard no_grad;
  model_->eval();
  double loss_sum = 0;
  std::vector<at::Tensor> images, texts;
  const int64_t batches = data_.for_each_validation_batch(
      config_.schedule.eval_batches, config_.train.batch_size, [&](const ImageTextBatch& batch, int64_t) {
        const auto text = inference::tokenize_for_qformer(tokenizer_, batch.captions, config_.qformer.max_text_length);
        compat::AutocastGuard autocast(device_.type(), use_bf16(config_, device_));
        const at::Tensor feats = image_features(batch);
        const at::Tensor image = model_->qformer->image_embeds(feats).to(torch::kFloat);   // (B, Q, E)
        const at::Tensor txt = model_->qformer->text_embed(text.input_ids.to(device_),
                                                           text.attention_mask.to(device_)).to(torch::kFloat);
        // Every rank scores the same validation batches: gathering them would repeat each sample
        // world_size times among the negatives, and val/loss would depend on the world size.
        loss_sum += contrastive(image, txt, /*dist=*/nullptr).loss.item<double>();
        images.push_back(image.cpu());
        texts.push_back(txt.cpu());
      });
  std::map<std::string, double> metrics;
  if (batches == 0) return metrics;
  metrics["val/loss"] = loss_sum / static_cast<double>(batches);
  // Retrieval over the validation batches seen: R@1 both ways (the full protocol is `vlm eval retrieval`).
  const at::Tensor sim = model_->qformer->similarity(torch::cat(images), torch::cat(texts));  // (N, N)
  const auto target = torch::arange(sim.size(0));
  metrics["val/i2t_R@1"] = (sim.argmax(1) == target).to(torch::kFloat).mean().item<double>();
  metrics["val/t2i_R@1"] = (sim.argmax(0) == target).to(torch::kFloat).mean().item<double>();
  return metrics;
}

nlohmann::json Stage1Task::state() const { return {{"train_data", data_.train->state()}}; }

void Stage1Task::restore(const nlohmann::json& state) { data_.train->restore(state.at("train_data")); }

void Stage1Task::export_to(const std::string& dir) {
  inference::export_stage1(config_, *model_->vision, model_->qformer, tokenizer_, dir);
}

}  // namespace vlm::train
