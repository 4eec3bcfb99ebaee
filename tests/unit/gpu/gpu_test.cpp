// The CUDA paths, checked against the CPU (the independent reference) where a GPU is present;
// every test skips cleanly without one. Tolerances: fp32 on the GPU differs from the CPU by
// summation order only (<= 1e-4 relative here; TF32 is off for matmuls by default); bf16
// autocast keeps 8 bits of mantissa, so losses agree to about 1e-2 relative in the first steps.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "core/accelerator.h"
#include "core/torch_compat.h"
#include "models/adapter.h"
#include "models/decoder.h"
#include "models/lora.h"
#include "models/qformer.h"
#include "models/vit.h"
#include "models/vlm.h"
#include "train/adam_multi_tensor.h"
#include "train/losses.h"
#include "train/param_groups.h"
#include "train/step_utils.h"

namespace vlm {
namespace {

#define SKIP_WITHOUT_CUDA()                                                      \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";            \
  if (!accelerator::built_with_cuda()) GTEST_SKIP() << "built without CUDA"

const c10::Device kCuda(c10::kCUDA, 0);

double rel_err(const at::Tensor& got, const at::Tensor& want) {
  const auto g = got.to(torch::kCPU, torch::kDouble), w = want.to(torch::kCPU, torch::kDouble);
  return ((g - w).norm() / w.norm().clamp_min(1e-30)).item<double>();
}

TEST(Gpu, FusedAttentionMatchesReference) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  for (const bool causal : {false, true}) {
    for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
      SCOPED_TRACE(std::string(causal ? "causal " : "full ") + (dtype == torch::kFloat ? "fp32" : "bf16"));
      const auto q = torch::randn({2, 4, 37, 64}), k = torch::randn({2, 4, 37, 64}), v = torch::randn({2, 4, 37, 64});
      // An additive padding mask: the last 5 keys of row 1 dropped.
      at::Tensor mask = torch::zeros({2, 1, 1, 37});
      mask.index_put_({1, 0, 0, torch::indexing::Slice(32, 37)}, -std::numeric_limits<float>::infinity());
      const double scale = 0.125;
      const auto want = compat::attention_reference(q.to(torch::kDouble), k.to(torch::kDouble), v.to(torch::kDouble),
                                                    causal ? at::Tensor() : mask.to(torch::kDouble), causal, scale);
      const auto got = compat::attention(q.to(kCuda, dtype), k.to(kCuda, dtype), v.to(kCuda, dtype),
                                         causal ? at::Tensor() : mask.to(kCuda, dtype), causal, scale);
      EXPECT_EQ(got.scalar_type(), dtype);
      EXPECT_LT(rel_err(got, want), dtype == torch::kFloat ? 1e-5 : 1e-2);
    }
  }
}

TEST(Gpu, DecoderForwardMatchesCpu) {
  SKIP_WITHOUT_CUDA();
  for (auto cfg : {models::DecoderConfig::tiny_llama(), models::DecoderConfig::tiny_qwen3()}) {
    SCOPED_TRACE(cfg.model_type);
    torch::manual_seed(1);
    auto lm = models::DecoderLM(cfg);
    lm->eval();
    torch::NoGradGuard no_grad;
    const auto ids = torch::randint(3, cfg.vocab_size, {3, 11}, torch::kLong);
    auto mask = torch::ones({3, 11}, torch::kLong);
    mask.index_put_({0, torch::indexing::Slice(0, 4)}, 0);  // a left-padded row
    const auto want = lm->forward({.input_ids = ids, .attention_mask = mask}).logits;
    lm->to(kCuda);
    const auto got = lm->forward({.input_ids = ids.to(kCuda), .attention_mask = mask.to(kCuda)}).logits;
    EXPECT_LT(rel_err(got.index({torch::indexing::Slice(1)}), want.index({torch::indexing::Slice(1)})), 1e-4);
    EXPECT_LT(rel_err(got.index({0, torch::indexing::Slice(4)}), want.index({0, torch::indexing::Slice(4)})), 1e-4);
  }
}

TEST(Gpu, VitAndQFormerMatchCpu) {
  SKIP_WITHOUT_CUDA();
  at::globalContext().setAllowTF32CuDNN(false);  // the patch-embedding convolution in full fp32
  torch::manual_seed(2);
  auto vit = models::ViTModel(models::ViTConfig::tiny());
  auto qcfg = models::QFormerConfig::tiny();
  qcfg.encoder_width = vit->config().hidden_size;
  auto qformer = models::QFormer(qcfg);
  vit->eval();
  qformer->eval();
  torch::NoGradGuard no_grad;
  const auto pixels = torch::randn({2, 3, 32, 32});
  const auto feats = vit->forward(pixels);
  const auto want = qformer->image_embeds(feats);
  vit->to(kCuda);
  qformer->to(kCuda);
  const auto feats_gpu = vit->forward(pixels.to(kCuda));
  EXPECT_LT(rel_err(feats_gpu, feats), 1e-4);
  EXPECT_LT(rel_err(qformer->image_embeds(feats_gpu), want), 1e-4);
  at::globalContext().setAllowTF32CuDNN(true);
}

TEST(Gpu, MultiTensorAdamWMatchesLibTorchOnGpu) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(3);
  std::vector<at::Tensor> ours, theirs;
  for (const auto& shape : std::vector<std::vector<int64_t>>{{64, 32}, {32}, {7, 3, 5}}) {
    const auto init = torch::randn(shape, torch::TensorOptions(kCuda));
    ours.push_back(init.clone().set_requires_grad(true));
    theirs.push_back(init.clone().set_requires_grad(true));
  }
  train::MultiTensorAdamW a(ours, torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
  torch::optim::AdamW b(theirs, torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
  for (int step = 0; step < 5; ++step) {
    for (size_t i = 0; i < ours.size(); ++i) {
      const auto g = torch::randn(ours[i].sizes(), torch::TensorOptions(kCuda));
      ours[i].mutable_grad() = g.clone();
      theirs[i].mutable_grad() = g.clone();
    }
    a.step();
    b.step();
  }
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_LT(rel_err(ours[i], theirs[i]), 1e-6);
}

TEST(Gpu, ClipGradNormNeedsNoHostValue) {
  SKIP_WITHOUT_CUDA();
  auto p = torch::zeros({3}, torch::TensorOptions(kCuda).requires_grad(true));
  auto q = torch::zeros({1}, torch::TensorOptions(kCuda).requires_grad(true));
  p.mutable_grad() = torch::tensor({3.0f, 4.0f, 0.0f}, torch::TensorOptions(kCuda));
  q.mutable_grad() = torch::tensor({12.0f}, torch::TensorOptions(kCuda));
  const auto norm = train::clip_grad_norm({p, q}, 1.3);
  EXPECT_TRUE(norm.is_cuda());
  EXPECT_NEAR(norm.item<double>(), 13.0, 1e-5);
  EXPECT_NEAR(q.grad().item<double>(), 12.0 * 1.3 / 13.0, 1e-5);
  EXPECT_TRUE(train::all_finite({norm, torch::zeros({}, torch::TensorOptions(kCuda))}));
  EXPECT_FALSE(train::all_finite({norm, torch::full({}, NAN, torch::TensorOptions(kCuda))}));
}

TEST(Gpu, PeakMemoryCountsAnAllocation) {
  SKIP_WITHOUT_CUDA();
  accelerator::synchronize(kCuda);
  accelerator::reset_peak_memory(kCuda);
  {
    const auto big = torch::empty({64, 1024, 1024}, torch::TensorOptions(kCuda));  // 256 MiB
    accelerator::synchronize(kCuda);
    EXPECT_GE(accelerator::peak_memory_bytes(kCuda), int64_t{256} << 20);
  }
  accelerator::reset_peak_memory(kCuda);
  EXPECT_LT(accelerator::peak_memory_bytes(kCuda), int64_t{256} << 20);
}

// A tiny stage-2 model (ViT frozen, Q-Former, adapter, LM with LoRA) trained for a few steps on
// the same batches: CPU fp32 and CUDA bf16 autocast start from the same weights and should
// follow the same loss curve within bf16 tolerance.
std::vector<double> stage2_losses(const c10::Device& device, bool bf16) {
  torch::manual_seed(4);
  auto vit = models::ViTModel(models::ViTConfig::tiny());
  for (auto& p : vit->parameters()) p.set_requires_grad(false);
  auto qcfg = models::QFormerConfig::tiny();
  qcfg.encoder_width = vit->config().hidden_size;
  qcfg.distilbert.dropout = 0.0;
  qcfg.distilbert.attention_dropout = 0.0;
  auto lm = models::DecoderLM(models::DecoderConfig::tiny_llama());
  for (auto& p : lm->parameters()) p.set_requires_grad(false);
  models::LoraConfig lora;
  lora.r = 4;
  lora.lora_alpha = 8;
  models::apply_lora(*lm, lora);
  auto qformer = models::QFormer(qcfg);
  models::AdapterConfig acfg;
  acfg.input_size = qformer->config().hidden_size();
  acfg.hidden_size = lm->config().hidden_size;
  acfg.output_size = lm->config().hidden_size;
  auto model = models::VisionLanguageModel(vit, qformer, models::Adapter(acfg), lm);
  // LoRA B starts at zero: give it a value so the LM path matters from the first step.
  for (auto& item : model->named_parameters()) {
    if (item.key().find("lora_B") != std::string::npos) item.value().data().normal_(0.0, 0.05);
  }
  model->to(device);
  model->train();
  train::ParamGroupOptions go;
  go.lr = 3e-3;
  go.rules = {{.label = "all", .pattern = ".*"}};
  const auto groups = train::build_param_groups(*model, go);
  auto optimizer = train::make_optimizer(groups, {});
  std::vector<at::Tensor> params;
  for (const auto& g : groups) params.insert(params.end(), g.params.begin(), g.params.end());
  torch::manual_seed(5);
  const auto opts = torch::TensorOptions(torch::kLong);
  models::VlmBatch batch{torch::randn({4, 3, 32, 32}), torch::randint(3, 100, {4, 6}, opts),
                         torch::ones({4, 6}, opts), torch::randint(3, 100, {4, 5}, opts), torch::ones({4, 5}, opts)};
  batch.prompt_mask.index_put_({0, torch::indexing::Slice(0, 2)}, 0);  // left padding
  batch.target_mask.index_put_({1, torch::indexing::Slice(3, 5)}, 0);  // right padding
  batch = {batch.pixel_values.to(device), batch.prompt_ids.to(device), batch.prompt_mask.to(device),
           batch.target_ids.to(device), batch.target_mask.to(device)};
  std::vector<double> losses;
  for (int step = 0; step < 6; ++step) {
    train::zero_grads(params);
    at::Tensor loss;
    {
      compat::AutocastGuard autocast(device.type(), bf16);
      const auto [logits, labels] = model->logits_and_labels(batch);
      loss = train::causal_lm_loss(logits, labels, train::count_supervised_tokens(labels).clamp_min(1));
    }
    loss.backward();
    train::clip_grad_norm(params, 1.0);
    optimizer->step();
    losses.push_back(loss.item<double>());
  }
  return losses;
}

TEST(Gpu, Stage2LossCurveMatchesCpu) {
  SKIP_WITHOUT_CUDA();
  const auto cpu = stage2_losses(c10::Device(c10::kCPU), false);
  const auto gpu32 = stage2_losses(kCuda, false);
  const auto gpu16 = stage2_losses(kCuda, true);
  ASSERT_EQ(cpu.size(), gpu16.size());
  EXPECT_LT(cpu.back(), cpu.front()) << "the tiny run must learn for the comparison to mean anything";
  for (size_t i = 0; i < cpu.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_NEAR(gpu32[i], cpu[i], 1e-4 * std::abs(cpu[i]));
    EXPECT_NEAR(gpu16[i], cpu[i], 2e-2 * std::abs(cpu[i]));
  }
}

}  // namespace
}  // namespace vlm
