// Frozen product weights stored in bf16 (models/frozen_bf16.h): under bf16 autocast the stage-2
// loss and every trainable gradient are bit for bit those of the fp32-stored model (autocast
// rounds the same fp32 weights to the same bf16 values at every call); only frozen Linear / LoRA
// base / Conv2d tensors change; a tied embedding stays; the merged LM export is still written in
// the model's dtype, summed in fp32; and the run's settings decide whether it happens at all.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>

#include "config/run_config.h"
#include "core/torch_compat.h"
#include "io/tensor_store.h"
#include "models/frozen_bf16.h"
#include "models/lora.h"
#include "models/peft.h"
#include "models/vlm.h"
#include "test_util.h"
#include "train/losses.h"
#include "train/precision.h"

namespace vlm::test {
namespace {

// Stage 2's model at tiny sizes: the ViT and the LM's base frozen, LoRA (r 4) with random B on
// every LM projection, the Q-Former and adapter trained.
models::VisionLanguageModel tiny_stage2(uint64_t seed) {
  torch::manual_seed(seed);
  auto vit = models::ViTModel(models::ViTConfig::tiny());
  for (auto& p : vit->parameters()) p.set_requires_grad(false);
  auto qcfg = models::QFormerConfig::tiny();
  qcfg.encoder_width = vit->config().hidden_size;
  auto qformer = models::QFormer(qcfg);
  auto lm = models::DecoderLM(models::DecoderConfig::tiny_llama());
  for (auto& p : lm->parameters()) p.set_requires_grad(false);
  models::apply_lora(*lm, models::LoraConfig{.r = 4, .lora_alpha = 8, .lora_dropout = 0.1});
  torch::NoGradGuard no_grad;
  for (auto& [name, layer] : models::lora_linears(*lm)) layer->lora_B->weight.normal_(0.0, 0.05);
  models::AdapterConfig acfg;
  acfg.input_size = qformer->config().hidden_size();
  acfg.hidden_size = lm->config().hidden_size;
  acfg.output_size = lm->config().hidden_size;
  models::VisionLanguageModel model(vit, qformer, models::Adapter(acfg), lm);
  model->train();  // dropout on: both runs draw the same masks from the same seed
  return model;
}

models::VlmBatch tiny_batch(int64_t vocab) {
  torch::manual_seed(7);
  return {torch::randn({2, 3, 32, 32}), torch::randint(3, vocab, {2, 4}, torch::kLong), torch::ones({2, 4}, torch::kLong),
          torch::randint(3, vocab, {2, 3}, torch::kLong), torch::ones({2, 3}, torch::kLong)};
}

// The stage-2 loss under bf16 autocast, and every trainable parameter's gradient.
std::pair<at::Tensor, std::map<std::string, at::Tensor>> loss_and_grads(models::VisionLanguageModelImpl& model,
                                                                        const models::VlmBatch& batch) {
  for (auto& p : model.parameters()) p.mutable_grad() = at::Tensor();
  torch::manual_seed(11);
  at::Tensor loss;
  {
    compat::AutocastGuard autocast(c10::DeviceType::CPU, true);
    const auto [logits, labels] = model.target_logits_and_labels(batch);
    loss = train::target_lm_loss(logits, labels, labels.ne(-100).sum());
  }
  loss.backward();
  std::map<std::string, at::Tensor> grads;
  for (const auto& p : model.named_parameters())
    if (p.value().grad().defined()) grads[p.key()] = p.value().grad().clone();  // (the Q-Former's text side has none)
  return {loss.detach(), grads};
}

TEST(FrozenBf16, SameLossAndGradientsBitForBitUnderAutocast) {
  auto model = tiny_stage2(3);
  const auto batch = tiny_batch(model->lm->config().vocab_size);
  const auto [loss32, grads32] = loss_and_grads(*model, batch);

  // What should change: every frozen Linear / LoRA base / Conv2d weight and bias.
  int64_t expected_tensors = 0, expected_values = 0;
  for (const auto& m : model->modules(/*include_self=*/false)) {
    const bool product = dynamic_cast<torch::nn::LinearImpl*>(m.get()) || dynamic_cast<models::LoraLinearImpl*>(m.get()) ||
                         dynamic_cast<torch::nn::Conv2dImpl*>(m.get());
    if (!product) continue;
    for (const auto& p : m->parameters(/*recurse=*/false)) {
      if (p.requires_grad()) continue;
      ++expected_tensors;
      expected_values += p.numel();
    }
  }
  const models::FrozenCast cast = models::store_frozen_products_in_bf16(*model);
  ASSERT_GT(expected_tensors, 10);
  EXPECT_EQ(cast.tensors, expected_tensors);
  EXPECT_EQ(cast.values, expected_values);
  for (const auto& p : model->named_parameters()) {
    const std::string& name = p.key();
    // By name: frozen, and not a norm, the token table or the ViT's class / position embeddings.
    const bool frozen_product = !p.value().requires_grad() && name.find("norm") == std::string::npos &&
                                name.find("embed_tokens") == std::string::npos &&
                                name.find("cls_token") == std::string::npos &&
                                name.find("position_embeddings") == std::string::npos;
    const at::ScalarType want = frozen_product ? at::kBFloat16 : at::kFloat;
    EXPECT_EQ(p.value().scalar_type(), want) << name;
  }
  EXPECT_EQ(model->lm->embed_tokens->weight.scalar_type(), at::kFloat);

  const auto [loss16, grads16] = loss_and_grads(*model, batch);
  EXPECT_TRUE(torch::equal(loss16, loss32)) << loss16.item<double>() << " vs " << loss32.item<double>();
  ASSERT_EQ(grads16.size(), grads32.size());
  int64_t nonzero = 0;
  for (const auto& [name, g] : grads32) {
    EXPECT_TRUE(torch::equal(grads16.at(name), g)) << name << ": max |d| "
                                                  << (grads16.at(name) - g).abs().max().item<double>();
    nonzero += g.abs().sum().item<double>() > 0;
  }
  EXPECT_GT(nonzero, static_cast<int64_t>(grads32.size()) / 2);  // the comparison is not between zeros
}

TEST(FrozenBf16, TiedEmbeddingAndTrainableTensorsStay) {
  struct Tied : torch::nn::Module {
    torch::nn::Embedding embed{nullptr};
    torch::nn::Linear head{nullptr}, other{nullptr}, trained{nullptr};
    Tied() {
      embed = register_module("embed", torch::nn::Embedding(10, 4));
      head = register_module("head", torch::nn::Linear(torch::nn::LinearOptions(4, 10).bias(false)));
      head->weight.set_data(embed->weight);  // tied: the same storage, as an LM head
      other = register_module("other", torch::nn::Linear(4, 4));
      trained = register_module("trained", torch::nn::Linear(4, 4));
      for (auto* m : {&embed->weight, &head->weight, &other->weight, &other->bias}) m->set_requires_grad(false);
    }
  };
  Tied t;  // on the stack: the root need not be held by a shared_ptr
  const models::FrozenCast cast = models::store_frozen_products_in_bf16(t);
  EXPECT_EQ(cast.tensors, 2);  // other.weight, other.bias
  EXPECT_EQ(cast.values, 4 * 4 + 4);
  EXPECT_EQ(t.embed->weight.scalar_type(), at::kFloat);
  EXPECT_EQ(t.head->weight.scalar_type(), at::kFloat);
  EXPECT_EQ(t.other->weight.scalar_type(), at::kBFloat16);
  EXPECT_EQ(t.other->bias.scalar_type(), at::kBFloat16);
  EXPECT_EQ(t.trained->weight.scalar_type(), at::kFloat);
}

TEST(FrozenBf16, MergedExportStaysInTheModelsDtypeSummedInFp32) {
  auto model = tiny_stage2(5);
  auto& lm = *model->lm;
  auto [name, layer] = models::lora_linears(lm).front();
  const at::Tensor w32 = layer->weight.detach().clone();
  const at::Tensor delta = (layer->lora_B->weight.matmul(layer->lora_A->weight) * layer->scaling()).detach();
  models::store_frozen_products_in_bf16(*model);
  ASSERT_EQ(layer->weight.scalar_type(), at::kBFloat16);

  TempDir dir;
  models::save_decoder_merged(lm, dir.path() + "/lm");
  EXPECT_EQ(layer->weight.scalar_type(), at::kBFloat16);  // the model is left as it was
  const auto store = io::TensorStore::open(dir.path() + "/lm");
  const auto saved_name = [](const std::string& module) { return "model." + module.substr(module.find("layers.")) + ".weight"; };
  const at::Tensor saved = store.get(saved_name(name));
  ASSERT_EQ(saved.scalar_type(), at::kFloat);
  // The base as the run computed with it (rounded to bf16), plus the update in fp32: not rounded again.
  const at::Tensor want = w32.to(at::kBFloat16).to(at::kFloat) + delta;
  EXPECT_LE((saved - want).abs().max().item<double>(), 1e-6);
  EXPECT_GT((saved - want.to(at::kBFloat16).to(at::kFloat)).abs().max().item<double>(), 0.0);
  for (const auto& other : models::lora_linears(lm))  // every projection, merged or not, in fp32
    EXPECT_EQ(store.get(saved_name(other.first)).scalar_type(), at::kFloat) << other.first;
}

TEST(FrozenBf16, OnlyRunsThatComputeInBf16AndAskForIt) {
  auto frozen_count = [](config::Precision precision, bool frozen_bf16) {
    config::RunConfig config;
    config.train.precision = precision;
    config.train.frozen_bf16 = frozen_bf16;
    torch::nn::Sequential m(torch::nn::Linear(3, 3));
    for (auto& p : m->parameters()) p.set_requires_grad(false);
    train::store_frozen_in_bf16(config, c10::Device(c10::kCPU), *m);
    int64_t n = 0;
    for (const auto& p : m->parameters()) n += p.scalar_type() == at::kBFloat16;
    return n;
  };
  EXPECT_EQ(frozen_count(config::Precision::kBf16, true), 2);
  EXPECT_EQ(frozen_count(config::Precision::kBf16, false), 0);
  EXPECT_EQ(frozen_count(config::Precision::kFp32, true), 0);
  EXPECT_EQ(frozen_count(config::Precision::kAuto, true), 0);  // auto is fp32 on a CPU
}

}  // namespace
}  // namespace vlm::test
