// The LM loss computed only where it is read (the LM head at the positions that predict a target,
// the cross-entropy's own backward) against the full computation: the loss and every trainable
// gradient equal, frozen weights left without gradients. References: F::cross_entropy in double
// for the loss function; causal_lm_loss over logits_and_labels / the full decoder logits for the
// stage-2 model and the LM stage.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <string>

#include "models/lora.h"
#include "models/vlm.h"
#include "train/lm_task.h"
#include "train/losses.h"

namespace vlm {
namespace {

namespace F = torch::nn::functional;

// Tolerances (fp32 unless stated).
constexpr double kDoubleTol = 1e-12;  // max|d| loss and gradient, double, vs F::cross_entropy
constexpr double kLossTol = 1e-6;     // |d| of the fp32 loss, target positions vs full head
constexpr double kGradTol = 1e-5;     // max|d| / max(1, max|g|) of each fp32 gradient, same comparison

TEST(TargetLmLoss, EqualsTorchCrossEntropyInDouble) {
  torch::manual_seed(1);
  const at::Tensor logits = torch::randn({3, 5, 11}, at::kDouble).requires_grad_(true);
  at::Tensor targets = torch::randint(0, 11, {3, 5}, at::kLong);
  targets.index_put_({0, 1}, train::kIgnoreIndex);
  targets.index_put_({2, 4}, train::kIgnoreIndex);
  const at::Tensor count = targets.ne(train::kIgnoreIndex).sum();
  const at::Tensor loss = train::target_lm_loss(logits, targets, count);
  loss.backward();
  const at::Tensor ref_logits = logits.detach().clone().requires_grad_(true);
  const at::Tensor ref = F::cross_entropy(ref_logits.reshape({-1, 11}), targets.reshape({-1}),
                                          F::CrossEntropyFuncOptions().reduction(torch::kSum).ignore_index(-100)) /
                         count.to(at::kDouble);
  ref.backward();
  EXPECT_NEAR(loss.item<double>(), ref.item<double>(), kDoubleTol);
  EXPECT_LT((logits.grad() - ref_logits.grad()).abs().max().item<double>(), kDoubleTol);
  // Ignored rows get exactly no gradient, and an upstream factor scales the rest.
  EXPECT_EQ(logits.grad()[0][1].abs().max().item<double>(), 0.0);
}

TEST(TargetLmLoss, Bf16LogitsGetAnFp32LossAndABf16Gradient) {
  torch::manual_seed(2);
  const at::Tensor logits = (torch::randn({2, 4, 40}) * 3).to(at::kBFloat16).requires_grad_(true);
  const at::Tensor targets = torch::randint(0, 40, {2, 4}, at::kLong);
  const at::Tensor loss = train::target_lm_loss(logits, targets, torch::scalar_tensor(8, at::kLong));
  EXPECT_EQ(loss.scalar_type(), at::kFloat);
  loss.backward();
  EXPECT_EQ(logits.grad().scalar_type(), at::kBFloat16);
  const at::Tensor ref = train::target_lm_loss(logits.detach().to(at::kDouble), targets, torch::scalar_tensor(8));
  EXPECT_NEAR(loss.item<double>(), ref.item<double>(), 1e-5);
}

std::map<std::string, at::Tensor> trainable_grads(torch::nn::Module& m) {
  std::map<std::string, at::Tensor> out;
  for (const auto& p : m.named_parameters()) {
    if (p.value().requires_grad()) {
      // Trainable parts the loss does not reach (the Q-Former's text branch in stage 2) have none.
      if (p.value().grad().defined()) out[p.key()] = p.value().grad().clone();
    } else {
      EXPECT_FALSE(p.value().grad().defined()) << p.key() << " is frozen but got a gradient";
    }
  }
  return out;
}

void expect_same_grads(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (const auto& [name, g] : a) {
    ASSERT_TRUE(b.count(name)) << name << " has a gradient in one computation only";
    const at::Tensor& h = b.at(name);
    const double scale = std::max(1.0, g.abs().max().item<double>());
    EXPECT_LE((g - h).abs().max().item<double>() / scale, kGradTol) << name;
  }
}

models::VisionLanguageModel tiny_vlm_with_lora() {
  torch::manual_seed(3);
  auto vit = models::ViTModel(models::ViTConfig::tiny());
  auto qcfg = models::QFormerConfig::tiny();
  qcfg.encoder_width = vit->config().hidden_size;
  auto qformer = models::QFormer(qcfg);
  auto lm = models::DecoderLM(models::DecoderConfig::tiny_llama());
  models::LoraConfig lora;
  lora.r = 4;
  lora.lora_alpha = 8;
  models::apply_lora(*lm, lora);
  {
    torch::NoGradGuard no_grad;  // B != 0, so the adapters take part in the gradients compared
    for (const auto& p : models::lora_parameters(*lm)) p.normal_(0.0, 0.1);
  }
  models::AdapterConfig acfg;
  acfg.input_size = qformer->config().hidden_size();
  acfg.hidden_size = lm->config().hidden_size;
  acfg.output_size = lm->config().hidden_size;
  models::VisionLanguageModel model(vit, qformer, models::Adapter(acfg), lm);
  model->eval();  // no dropout: the two computations see the same function
  return model;
}

TEST(TargetLogits, Stage2LossAndGradientsEqualTheFullHead) {
  auto model = tiny_vlm_with_lora();
  // Row 0: one left pad in the prompt and a right-padded target; row 1: full rows.
  const models::VlmBatch b{torch::randn({2, 3, 32, 32}), torch::tensor({{0, 5, 6, 7}, {7, 8, 9, 10}}, torch::kLong),
                           torch::tensor({{0, 1, 1, 1}, {1, 1, 1, 1}}, torch::kLong),
                           torch::tensor({{11, 12, 0}, {13, 14, 15}}, torch::kLong),
                           torch::tensor({{1, 1, 0}, {1, 1, 1}}, torch::kLong)};
  const at::Tensor count = torch::scalar_tensor(5, torch::kLong);

  const auto [full_logits, full_labels] = model->logits_and_labels(b);
  const at::Tensor full = train::causal_lm_loss(full_logits, full_labels, count);
  full.backward();
  const auto full_grads = trainable_grads(*model);
  model->zero_grad();

  const auto [logits, labels] = model->target_logits_and_labels(b);
  EXPECT_EQ(logits.size(1), 3);  // Tt positions, not Q + Tp + Tt
  EXPECT_TRUE(torch::equal(labels, torch::tensor({{11, 12, -100}, {13, 14, 15}}, torch::kLong))) << labels;
  const at::Tensor loss = train::target_lm_loss(logits, labels, count);
  loss.backward();
  EXPECT_NEAR(loss.item<double>(), full.item<double>(), kLossTol);
  expect_same_grads(trainable_grads(*model), full_grads);
  EXPECT_TRUE(full_grads.count("lm.model.layers.0.self_attn.q_proj.lora_A.weight"));
  EXPECT_TRUE(full_grads.count("adapter.linear_1.weight"));
}

TEST(TargetLogits, LmStageLossAndGradientsEqualTheFullHead) {
  torch::manual_seed(4);
  models::DecoderLM lm(models::DecoderConfig::tiny_llama());
  lm->eval();
  const inference::TokenBatch t{torch::tensor({{0, 0, 5, 6}, {7, 8, 9, 10}}, torch::kLong),
                            torch::tensor({{0, 0, 1, 1}, {1, 1, 1, 1}}, torch::kLong),
                            torch::tensor({{11, 0, 0}, {13, 14, 15}}, torch::kLong),
                            torch::tensor({{1, 0, 0}, {1, 1, 1}}, torch::kLong)};

  models::DecoderInput in;
  in.input_ids = torch::cat({t.prompt_ids, t.target_ids}, 1);
  in.attention_mask = torch::cat({t.prompt_mask, t.target_mask}, 1);
  const at::Tensor labels = torch::cat({torch::full_like(t.prompt_ids, train::kIgnoreIndex),
                                        t.target_ids.masked_fill(t.target_mask == 0, train::kIgnoreIndex)}, 1);
  const at::Tensor full = train::causal_lm_loss(lm->forward(in).logits, labels, train::count_supervised_tokens(labels));
  full.backward();
  const auto full_grads = trainable_grads(*lm);
  lm->zero_grad();

  const at::Tensor loss = train::prompt_target_loss(*lm, t);
  loss.backward();
  EXPECT_NEAR(loss.item<double>(), full.item<double>(), kLossTol);
  expect_same_grads(trainable_grads(*lm), full_grads);
}

}  // namespace
}  // namespace vlm
