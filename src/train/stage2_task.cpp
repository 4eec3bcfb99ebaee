#include "train/stage2_task.h"

#include <torch/torch.h>

#include <filesystem>
#include <random>

#include "core/log.h"
#include "core/random.h"
#include "core/runtime.h"
#include "core/torch_compat.h"
#include "io/atomic_file.h"
#include "models/peft.h"
#include "inference/builders.h"
#include "train/distributed.h"
#include "train/losses.h"
#include "train/precision.h"
#include "inference/vlm_bundle.h"

namespace fs = std::filesystem;

namespace vlm::train {

std::vector<inference::PromptTarget> choose_targets(const config::RunConfig& config, const ImageTextBatch& batch, int64_t step) {
  std::vector<inference::PromptTarget> rows;
  for (int64_t i = 0; i < batch.size(); ++i) {
    std::mt19937_64 rng(stable_hash(batch.keys[i], seed_stream::stage2_targets(static_cast<uint64_t>(config.run.seed), step)));
    const auto& qa = batch.qa.empty() ? std::vector<QAPair>{} : batch.qa[i];
    if (!qa.empty() && unit_from_u64(rng()) < config.data.vqa_ratio) {
      const auto& pick = qa[rng() % qa.size()];
      rows.push_back({pick.question, pick.answer});
    } else {
      rows.push_back({config.prompt.user[rng() % config.prompt.user.size()], batch.captions[i]});
    }
  }
  return rows;
}

Stage2Task::Stage2Task(const config::RunConfig& config, Distributed* dist)
    : config_(config), dist_(dist), device_(runtime::parse_device(config.run.device)),
      prompts_(config.lm.path, config.prompt.system, config.prompt.max_target_tokens),
      model_(inference::build_vlm(config)) {
  model_->to(device_);
  // The same cache as stage 1's (config validation refuses it with vision.train or data.augment).
  data_ = open_task_data(config, model_->vision, device_, dist, "stage 2");
  store_frozen_in_bf16(config, device_, *model_);
}

Stage2Task::~Stage2Task() = default;

std::vector<ParamRule> Stage2Task::param_rules() const {
  return {
      {.label = "vision", .pattern = R"(^vision\.)", .lr = config_.vision.lr > 0 ? config_.vision.lr : config_.train.lr},
      {.label = "qformer", .pattern = R"(^qformer\.)", .lr = config_.train.lr},
      {.label = "adapter", .pattern = R"(^adapter\.)", .lr = config_.train.lr_head},
      {.label = "lora", .pattern = R"(\.lora_[AB]\.)", .lr = config_.train.lr_head},
      {.label = "lm", .pattern = R"(^lm\.)", .lr = config_.train.lr_head},  // lm.full_finetune
  };
}

models::VlmBatch Stage2Task::to_device(const ImageTextBatch& batch, const inference::TokenBatch& t) const {
  models::VlmBatch b{{}, train::to_device(t.prompt_ids, device_), train::to_device(t.prompt_mask, device_),
                     train::to_device(t.target_ids, device_), train::to_device(t.target_mask, device_), {}};
  // Cached rows are bf16/fp16 (or fp32): upcasting is exact, and autocast casts down again where
  // the run computes in bf16, as it would the ViT's own output (as stage 1 reads them).
  if (batch.features.defined()) b.vision_features = train::to_device(batch.features, device_).to(torch::kFloat);
  else b.pixel_values = train::to_device(batch.pixel_values, device_);
  return b;
}

StepResult Stage2Task::forward_backward(int64_t step, int64_t grad_accum) {
  model_->train();
  // All micro-batches first: the loss is normalised by the supervised tokens of the whole
  // accumulated batch (all ranks), so accumulation equals one big batch.
  std::vector<models::VlmBatch> micro;
  StepResult result;
  at::Tensor tokens = torch::zeros({}, torch::kLong);
  for (int64_t m = 0; m < grad_accum; ++m) {
    const ImageTextBatch batch = data_.train->next();
    const inference::TokenBatch t = prompts_.build(choose_targets(config_, batch, step));
    tokens += t.target_mask.sum();  // counted on the host: no device sync
    micro.push_back(to_device(batch, t));
    result.samples += batch.size();
  }
  const double ranks = sum_tokens_across_ranks(tokens, dist_);
  const at::Tensor count = tokens.to(device_).clamp_min(1);
  at::Tensor total = torch::zeros({}, torch::TensorOptions(torch::kFloat).device(device_));
  for (const auto& b : micro) {
    compat::AutocastGuard autocast(device_.type(), use_bf16(config_, device_));
    // The LM head only where a target token is predicted (equal to the full computation).
    const auto [logits, labels] = model_->target_logits_and_labels(b);
    // Gradients are averaged over ranks afterwards; the count already sums them: undo the mean.
    const at::Tensor loss = target_lm_loss(logits, labels, count) * ranks;
    loss.backward();
    total += loss.detach().to(torch::kFloat);  // stays on the device: the trainer reads it at log time
  }
  // Kept world_size times this rank's share: the trainer logs the mean over ranks, which is then
  // the loss of the whole global batch.
  result.loss = total;
  result.tokens = tokens.item<int64_t>();
  return result;
}

std::map<std::string, double> Stage2Task::evaluate(int64_t step) {
  torch::NoGradGuard no_grad;
  model_->eval();
  double loss_sum = 0;
  samples_.clear();
  const int64_t batches = data_.for_each_validation_batch(
      config_.schedule.eval_batches, config_.train.batch_size, [&](const ImageTextBatch& batch, int64_t index) {
        // Validation always uses the first prompt and the caption: a fixed, comparable target.
        std::vector<inference::PromptTarget> rows;
        for (const auto& caption : batch.captions) rows.push_back({config_.prompt.user.front(), caption});
        const models::VlmBatch b = to_device(batch, prompts_.build(rows));
        compat::AutocastGuard autocast(device_.type(), use_bf16(config_, device_));
        const auto [logits, labels] = model_->target_logits_and_labels(b);
        loss_sum += target_lm_loss(logits, labels, labels.ne(kIgnoreIndex).sum().clamp_min(1)).item<double>();
        if (index == 0 && config_.schedule.sample_captions > 0) {
          const int64_t n = std::min<int64_t>(config_.schedule.sample_captions, batch.size());
          models::GenerationConfig gen;
          gen.max_new_tokens = std::min<int64_t>(config_.generation.max_new_tokens, 40);
          gen.eos_token_ids = prompts_.stop_ids();
          gen.pad_token_id = prompts_.pad_id();
          auto first = [n](const at::Tensor& x) { return x.defined() ? x.slice(0, 0, n) : x; };
          models::VlmBatch head{first(b.pixel_values), first(b.prompt_ids), first(b.prompt_mask), {}, {},
                                first(b.vision_features)};
          const auto out = model_->generate(head, gen);
          for (int64_t i = 0; i < n; ++i) {
            samples_.push_back("[" + batch.keys[i] + "] " + prompts_.decode(out.tokens[i]) + "  (reference: " +
                               batch.captions[i] + ")");
          }
        }
      });
  if (batches == 0) return {};
  return {{"val/loss", loss_sum / static_cast<double>(batches)}};
}

nlohmann::json Stage2Task::state() const { return {{"train_data", data_.train->state()}}; }

void Stage2Task::restore(const nlohmann::json& state) { data_.train->restore(state.at("train_data")); }

void Stage2Task::export_to(const std::string& dir) { inference::export_vlm_bundle(config_, *model_, dir); }

}  // namespace vlm::train
