#include "train/lm_task.h"

#include <torch/torch.h>

#include <random>

#include "core/log.h"
#include "core/random.h"
#include "core/runtime.h"
#include "core/torch_compat.h"
#include "data/sources.h"
#include "data/split.h"
#include "train/distributed.h"
#include "train/losses.h"
#include "train/precision.h"
#include "inference/vlm_bundle.h"

namespace vlm::train {

LmTask::LmTask(const config::RunConfig& config, Distributed* dist)
    : config_(config), dist_(dist), device_(runtime::parse_device(config.run.device)),
      prompts_(config.lm.path, config.prompt.system, config.prompt.max_target_tokens) {
  models::DecoderConfig cfg = models::DecoderConfig::defaults_for("llama");
  cfg.vocab_size = prompts_.tokenizer().vocab_size();
  cfg.hidden_size = config.lm.hidden_size;
  cfg.num_hidden_layers = config.lm.num_hidden_layers;
  cfg.num_attention_heads = config.lm.num_attention_heads;
  cfg.num_key_value_heads = config.lm.num_key_value_heads;
  cfg.intermediate_size = config.lm.intermediate_size;
  cfg.head_dim = cfg.hidden_size / cfg.num_attention_heads;
  cfg.max_position_embeddings = 512;
  cfg.tie_word_embeddings = true;
  cfg.rms_norm_eps = 1e-5;
  cfg.eos_token_id = prompts_.stop_ids();
  cfg.pad_token_id = prompts_.pad_id();
  cfg.validate();
  model_ = models::DecoderLM(cfg);
  model_->to(device_);
  // Every caption and question-answer pair of the dataset, split by the same stable hash as
  // the images, so stage 2's validation images have never had their captions seen here.
  data::DataSpec spec;
  spec.path = config.data.path;
  spec.format = config.data.format;
  spec.max_samples = config.data.max_samples;
  const auto dataset = data::open_dataset(spec);
  for (const auto& s : dataset->samples) {
    auto& rows = data::in_validation(s.key, config.data.val_fraction, static_cast<uint64_t>(config.data.split_seed))
                     ? val_rows_
                     : train_rows_;
    for (size_t i = 0; i < s.captions.size(); ++i) {
      rows.push_back({config.prompt.user[(i + rows.size()) % config.prompt.user.size()], s.captions[i]});
    }
    for (const auto& qa : s.qa) rows.push_back({qa.question, qa.answer});
  }
  log::info("lm: random ", cfg.num_hidden_layers, "-layer LM (width ", cfg.hidden_size, ", vocab ", cfg.vocab_size,
            "), ", train_rows_.size(), " training texts, ", val_rows_.size(), " validation texts");
}

std::vector<ParamRule> LmTask::param_rules() const { return {{.label = "lm", .pattern = ".*"}}; }

at::Tensor prompt_target_loss(models::DecoderLMImpl& lm, const inference::TokenBatch& t, const at::Tensor& count) {
  models::DecoderInput in;
  in.input_ids = torch::cat({t.prompt_ids, t.target_ids}, 1);       // (B, Tp + Tt)
  in.attention_mask = torch::cat({t.prompt_mask, t.target_mask}, 1);  // (B, Tp + Tt)
  in.compute_logits = false;
  // The target starts at column Tp in every row (prompts are left-padded, targets right-padded):
  // the LM head runs only at the Tt columns Tp - 1 .. Tp + Tt - 2 that predict it.
  const int64_t Tp = t.prompt_ids.size(1), Tt = t.target_ids.size(1);
  TORCH_CHECK(Tp > 0, "prompt_target_loss needs a prompt of at least one token");
  const at::Tensor targets = t.target_ids.masked_fill(t.target_mask == 0, kIgnoreIndex);  // (B, Tt)
  const at::Tensor hidden = lm.forward(in).last_hidden_state;        // (B, Tp + Tt, D)
  const at::Tensor logits = lm.lm_logits(hidden.narrow(1, Tp - 1, Tt));  // (B, Tt, V)
  return target_lm_loss(logits, targets, count.defined() ? count : targets.ne(kIgnoreIndex).sum().clamp_min(1));
}

at::Tensor LmTask::loss_of(const inference::TokenBatch& t, const at::Tensor& count) {
  const inference::TokenBatch on_device{t.prompt_ids.to(device_), t.prompt_mask.to(device_), t.target_ids.to(device_),
                             t.target_mask.to(device_)};
  compat::AutocastGuard autocast(device_.type(), use_bf16(config_, device_));
  return prompt_target_loss(*model_, on_device, count);
}

StepResult LmTask::forward_backward(int64_t step, int64_t grad_accum) {
  model_->train();
  const bool parallel = dist_ && dist_->enabled();
  const int rank = parallel ? dist_->rank() : 0, world = parallel ? dist_->world_size() : 1;
  // The rows of the whole global batch come from one stream that every rank draws alike; rank r
  // keeps its share of each micro-batch. W ranks with batch B thus train on exactly the rows one
  // process with batch W x B would, and the loss is normalised by the supervised tokens of all of
  // them (every micro-batch, every rank), as stage 2 does.
  std::mt19937_64 rng(seed_stream::lm_rows(static_cast<uint64_t>(config_.run.seed), step));
  const auto B = static_cast<size_t>(config_.train.batch_size);
  std::vector<inference::TokenBatch> micro;
  at::Tensor tokens = torch::zeros({}, torch::kLong);
  for (int64_t m = 0; m < grad_accum; ++m) {
    std::vector<inference::PromptTarget> rows;
    for (int r = 0; r < world; ++r) {
      for (size_t i = 0; i < B; ++i) {
        const inference::PromptTarget& row = train_rows_[rng() % train_rows_.size()];
        if (r == rank) rows.push_back(row);
      }
    }
    micro.push_back(prompts_.build(rows));
    tokens += micro.back().target_mask.sum();
  }
  const double ranks = sum_tokens_across_ranks(tokens, dist_);
  const at::Tensor count = tokens.to(device_).clamp_min(1);
  StepResult result;
  at::Tensor total = torch::zeros({}, torch::TensorOptions(torch::kFloat).device(device_));
  for (const inference::TokenBatch& t : micro) {
    const at::Tensor loss = loss_of(t, count) * ranks;  // gradients are averaged over ranks afterwards
    loss.backward();
    total += loss.detach().to(torch::kFloat);
    result.samples += t.prompt_ids.size(0);
  }
  result.loss = total;  // world x this rank's share: the trainer's mean over ranks is the global batch's loss
  result.tokens = tokens.item<int64_t>();
  return result;
}

std::map<std::string, double> LmTask::evaluate(int64_t) {
  torch::NoGradGuard no_grad;
  model_->eval();
  double sum = 0;
  int64_t batches = 0;
  const auto bs = static_cast<size_t>(config_.train.batch_size);
  for (size_t start = 0; start < val_rows_.size() && batches < config_.schedule.eval_batches; start += bs, ++batches) {
    const std::vector<inference::PromptTarget> rows(val_rows_.begin() + static_cast<long>(start),
                                         val_rows_.begin() + static_cast<long>(std::min(val_rows_.size(), start + bs)));
    sum += loss_of(prompts_.build(rows)).item<double>();
  }
  if (batches == 0) return {};
  return {{"val/loss", sum / static_cast<double>(batches)}};
}

int64_t LmTask::train_samples() const {
  // Every rank draws its rows from the whole list: an epoch is the list shared among the ranks.
  const int world = dist_ != nullptr ? dist_->world_size() : 1;
  return std::max<int64_t>(1, static_cast<int64_t>(train_rows_.size()) / world);
}

void LmTask::export_to(const std::string& dir) {
  inference::save_lm_folder(*model_, config_.lm.path, dir);
}

}  // namespace vlm::train
