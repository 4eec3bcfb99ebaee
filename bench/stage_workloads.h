// The workloads of bench_stage_step and bench_stage_step_graph: stage 1 or stage 2 at the
// mission's real sizes with random weights and a fixed synthetic batch (see stage_step.cpp).
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "core/accelerator.h"
#include "models/adapter.h"
#include "models/frozen_bf16.h"
#include "models/lora.h"
#include "models/vlm.h"
#include "real_models.h"
#include "train/losses.h"
#include "train/param_groups.h"
#include "models/alignment.h"

namespace vlm::bench {

struct Args {
  int stage = 2;
  std::string lm = "smollm";
  int64_t batch = 8, steps = 20, warmup = 5, text_len = 32, prompt_len = 32, target_len = 24;
  std::string device = "auto", precision = "bf16";
  int threads = 0;
  // train.frozen_bf16, on by default as in the trainer: under bf16 the frozen ViT's and LM's
  // product weights stored in bf16 (models/frozen_bf16.h); --frozen-fp32 keeps them in fp32.
  bool frozen_bf16 = true;
  // vision.feature_cache: the frozen ViT's features computed once, stored in bf16 (the cache's
  // default) and upcast every step, as the trainer reads cached rows; the step never runs the ViT.
  bool cached_features = false;
};

inline Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
      return argv[++i];
    };
    if (k == "--stage") a.stage = std::stoi(next());
    else if (k == "--lm") a.lm = next();
    else if (k == "--batch") a.batch = std::stoll(next());
    else if (k == "--steps") a.steps = std::stoll(next());
    else if (k == "--warmup") a.warmup = std::stoll(next());
    else if (k == "--text-len") a.text_len = std::stoll(next());
    else if (k == "--prompt-len") a.prompt_len = std::stoll(next());
    else if (k == "--target-len") a.target_len = std::stoll(next());
    else if (k == "--device") a.device = next();
    else if (k == "--precision") a.precision = next();
    else if (k == "--threads") a.threads = std::stoi(next());
    else if (k == "--frozen-fp32") a.frozen_bf16 = false;
    else if (k == "--cached-features") a.cached_features = true;
    else throw std::invalid_argument("unknown option " + k);
  }
  if (a.stage != 1 && a.stage != 2) throw std::invalid_argument("--stage is 1 or 2");
  return a;
}

// What one step needs: the loss of a fixed synthetic batch and the parameter groups.
struct Workload {
  std::shared_ptr<torch::nn::Module> module;
  std::function<at::Tensor()> loss;  // forward under the caller's autocast, fp32 scalar
  std::vector<train::ParamRule> rules;
  train::OptimizerKind optimizer = train::OptimizerKind::kAdamW;
  double lr = 1e-4, weight_decay = 0.0, clip = 0.0;
};

inline Workload stage1(const Args& a, const c10::Device& device) {
  auto vit = models::ViTModel(bench::vit_base_16());
  for (auto& p : vit->parameters()) p.set_requires_grad(false);
  auto qformer = models::QFormer(bench::qformer_distilbert(vit->config().hidden_size));
  auto model = std::make_shared<models::AlignmentModelImpl>(vit, qformer, 0.07, /*learn_temperature=*/false, 0);
  model->to(device);
  model->train();
  const auto pixels = torch::randn({a.batch, 3, 224, 224}, torch::TensorOptions(device));
  const auto ids = torch::randint(1000, 30000, {a.batch, a.text_len}, torch::TensorOptions(torch::kLong).device(device));
  const auto mask = torch::ones_like(ids);
  at::Tensor cached;  // (B, 197, 768) bf16
  if (a.cached_features) cached = model->vision_features(pixels).to(torch::kBFloat16);
  if (a.precision == "bf16" && a.frozen_bf16) models::store_frozen_products_in_bf16(*model);  // as the trainer
  Workload w;
  w.module = model;
  w.loss = [model, pixels, ids, mask, cached]() mutable {
    const at::Tensor feats = cached.defined() ? cached.to(torch::kFloat)
                                              : model->vision_features(pixels);  // (B, 197, 768), no grad
    const at::Tensor image = model->qformer->image_embeds(feats);  // (B, 32, 256)
    const at::Tensor txt = model->qformer->text_embed(ids, mask);  // (B, 256)
    const at::Tensor pooled = torch::nn::functional::normalize(image.mean(1), torch::nn::functional::NormalizeFuncOptions().dim(-1));
    return train::contrastive_loss(pooled, txt, {.temperature = 0.07}).loss;
  };
  // configs/cc-*/stage1.yaml: Adam, cross-attention and queries at 1e-4, the rest at 1e-5, no clipping.
  w.rules = {{.label = "cross_attention_and_queries",
              .pattern = R"(^qformer\.(query_tokens$|.*\.crossattention\.|.*\.ca_layer_norm\.))"},
             {.label = "qformer_other", .pattern = R"(^qformer\.)", .lr_scale = 0.1}};
  w.optimizer = train::OptimizerKind::kAdam;
  return w;
}

inline Workload stage2(const Args& a, const c10::Device& device) {
  auto vit = models::ViTModel(bench::vit_base_16());
  for (auto& p : vit->parameters()) p.set_requires_grad(false);
  auto qformer = models::QFormer(bench::qformer_distilbert(vit->config().hidden_size));
  auto lm = models::DecoderLM(bench::lm_config(a.lm));
  for (auto& p : lm->parameters()) p.set_requires_grad(false);
  models::LoraConfig lora;
  lora.r = 64;
  lora.lora_alpha = 128;
  lora.lora_dropout = 0.1;
  models::apply_lora(*lm, lora);
  models::AdapterConfig acfg;
  acfg.input_size = qformer->config().hidden_size();
  acfg.hidden_size = lm->config().hidden_size;
  acfg.output_size = lm->config().hidden_size;
  auto model = models::VisionLanguageModel(vit, qformer, models::Adapter(acfg), lm);
  model->to(device);
  model->train();
  auto ids = [&](int64_t len) {
    return torch::randint(100, 20000, {a.batch, len}, torch::TensorOptions(torch::kLong).device(device));
  };
  models::VlmBatch batch{torch::randn({a.batch, 3, 224, 224}, torch::TensorOptions(device)), ids(a.prompt_len),
                         torch::ones({a.batch, a.prompt_len}, torch::TensorOptions(torch::kLong).device(device)),
                         ids(a.target_len),
                         torch::ones({a.batch, a.target_len}, torch::TensorOptions(torch::kLong).device(device))};
  if (a.cached_features) {
    batch.vision_features = models::vision_features(*model->vision, batch.pixel_values).to(torch::kBFloat16);
    batch.pixel_values = at::Tensor();
  }
  if (a.precision == "bf16" && a.frozen_bf16) models::store_frozen_products_in_bf16(*model);  // as the trainer
  const auto count = torch::full({}, a.batch * a.target_len, torch::TensorOptions(torch::kLong).device(device));
  Workload w;
  w.module = model.ptr();
  w.loss = [model, batch, count]() mutable {
    models::VlmBatch b = batch;
    if (b.vision_features.defined()) b.vision_features = b.vision_features.to(torch::kFloat);  // as Stage2Task reads rows
    const auto [logits, labels] = model->target_logits_and_labels(b);
    return train::target_lm_loss(logits, labels, count);
  };
  // configs/cc-*/stage2.yaml: AdamW, Q-Former at 1e-4, adapter and LoRA at 5e-4, clip 1.0.
  w.rules = {{.label = "qformer", .pattern = R"(^qformer\.)", .lr = 1e-4},
             {.label = "adapter", .pattern = R"(^adapter\.)", .lr = 5e-4},
             {.label = "lora", .pattern = R"(\.lora_[AB]\.)", .lr = 5e-4}};
  w.weight_decay = 0.01;
  w.clip = 1.0;
  return w;
}

// The parameter groups and optimizer of a workload, as the trainer builds them.
struct Training {
  std::vector<train::ParamGroup> groups;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<at::Tensor> params;
  int64_t trainable = 0;  // trainable parameter count
};

inline Training make_training(const Workload& w) {
  train::ParamGroupOptions go;
  go.lr = w.lr;
  go.weight_decay = w.weight_decay;
  go.rules = w.rules;
  Training t;
  t.groups = train::build_param_groups(*w.module, go);
  t.optimizer = train::make_optimizer(t.groups, {.kind = w.optimizer});
  for (const auto& g : t.groups) {
    for (const auto& p : g.params) {
      t.params.push_back(p);
      t.trainable += p.numel();
    }
  }
  return t;
}

// Runs `step` a.warmup times, then times a.steps of them, waiting for the device after each,
// and returns the result line: median and mean step time, samples/s, CPU seconds per step (getrusage: every
// thread, so a shared machine's waiting does not count), peak memory of the timed steps.
inline nlohmann::json time_steps(const std::function<void()>& step, const Args& a, const c10::Device& device,
                                 const std::string& impl) {
  for (int64_t i = 0; i < a.warmup; ++i) step();
  accelerator::synchronize(device);
  accelerator::reset_peak_memory(device);
  std::vector<double> ms;
  const double cpu0 = process_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < a.steps; ++i) {
    const auto s = std::chrono::steady_clock::now();
    step();
    accelerator::synchronize(device);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
  }
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu_s = process_cpu_seconds() - cpu0;  // on a shared machine: the work, not the waiting
  const double step_ms = median(ms);
  return {{"impl", impl},
          {"what", a.stage == 1 ? "stage1" : "stage2"},
          {"lm", a.stage == 1 ? "" : a.lm},
          {"batch", a.batch},
          {"device", device.str()},
          {"precision", a.precision},
          {"threads", torch::get_num_threads()},
          {"step_ms", step_ms},
          {"mean_step_ms", 1000.0 * total_s / static_cast<double>(std::max<int64_t>(1, a.steps))},
          {"samples_per_s", static_cast<double>(a.batch) * 1000.0 / std::max(1e-9, step_ms)},
          {"cpu_s_per_step", cpu_s / static_cast<double>(std::max<int64_t>(1, a.steps))},
          {"samples_per_cpu_s", static_cast<double>(a.batch * a.steps) / std::max(1e-9, cpu_s)},
          {"load_1m", load_1m()},
          {"peak_gib", static_cast<double>(accelerator::peak_memory_bytes(device)) / (1024.0 * 1024.0 * 1024.0)},
          {"text_len", a.text_len},
          {"prompt_len", a.prompt_len},
          {"target_len", a.target_len}};
}

}  // namespace vlm::bench
