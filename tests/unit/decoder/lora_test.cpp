// LoRA on the decoder and PEFT-format adapters: the layer against its formula, B = 0 == base,
// merged == unmerged, freezing, target selection, gradients, and PEFT save -> load with the literal
// key names and adapter_config.json fields PEFT writes.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/lora.h"
#include "models/peft.h"
#include "test_util.h"
#include "unit/decoder/decoder_test_util.h"

namespace vlm::test {
namespace {

using models::DecoderConfig;
using models::DecoderLM;
using models::LoraConfig;

// Gives every B matrix random values (a trained adapter), deterministically.
void randomize_b(models::DecoderLMImpl& lm, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& [name, layer] : models::lora_linears(lm))
    if (layer->has_adapter()) layer->lora_B->weight.normal_(0.0, 0.05);
}

TEST(Lora, LayerFollowsItsFormulaAndInit) {
  torch::manual_seed(0);
  models::LoraLinear layer(6, 5, /*bias=*/true);
  const LoraConfig cfg{.r = 4, .lora_alpha = 8, .use_rslora = false};
  layer->add_adapter(cfg);
  EXPECT_TRUE(layer->lora_B->weight.eq(0).all().item<bool>());
  EXPECT_LE(layer->lora_A->weight.abs().max().item<double>(), 1.0 / std::sqrt(6.0));  // kaiming-uniform(a=sqrt 5) bound
  EXPECT_FALSE(layer->weight.requires_grad());
  EXPECT_TRUE(layer->lora_A->weight.requires_grad());
  EXPECT_DOUBLE_EQ(layer->scaling(), 2.0);
  torch::NoGradGuard no_grad;
  layer->lora_B->weight.normal_();
  const auto x = torch::randn({3, 6});
  const auto expected = x.matmul(layer->weight.t()) + layer->bias +
                        2.0 * x.matmul(layer->lora_A->weight.t()).matmul(layer->lora_B->weight.t());
  EXPECT_TRUE(all_close(layer->forward(x), expected, 1e-5));
  EXPECT_DOUBLE_EQ((LoraConfig{.r = 16, .lora_alpha = 8, .use_rslora = true}.scaling()), 2.0);  // 8 / sqrt(16)
}

TEST(Lora, AllLinearWrapsEveryProjectionButTheHeadAndKeepsNames) {
  DecoderLM lm = random_lm(DecoderConfig::tiny_llama(), 1);
  const auto before = expected_names(*lm, models::decoder_name_table(lm->config()));
  const auto wrapped = models::apply_lora(*lm, LoraConfig{.r = 4, .lora_alpha = 8});
  EXPECT_EQ(wrapped.size(), 2u * 7u);
  EXPECT_EQ(wrapped[0], "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(expected_names(*lm, models::decoder_name_table(lm->config())), before);  // base names unchanged
  const auto targets = models::lora_target_names(*lm);
  EXPECT_EQ(targets, (std::vector<std::string>{"down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"}));
  for (const auto& p : lm->named_parameters()) {
    const bool lora = p.key().find("lora_") != std::string::npos;
    EXPECT_EQ(p.value().requires_grad(), lora) << p.key();
  }
  // The base checkpoint still loads into the wrapped model (adapters are not model weights).
  TempDir dir;
  DecoderLM ref = random_lm(DecoderConfig::tiny_llama(), 2);
  write_lm_folder(dir.path(), *ref, at::kFloat);
  EXPECT_NO_THROW(models::load_weights(*lm, dir.path(), models::decoder_name_table(lm->config())));
}

TEST(Lora, TargetsBySuffixAndUnknownTargetIsAnError) {
  DecoderLM lm = random_lm(DecoderConfig::tiny_qwen3(), 3);
  const auto wrapped = models::apply_lora(*lm, LoraConfig{.r = 2, .lora_alpha = 4, .target_modules = {"q_proj", "v_proj"}});
  EXPECT_EQ(wrapped.size(), 4u);
  DecoderLM other = random_lm(DecoderConfig::tiny_qwen3(), 3);
  EXPECT_THROW(models::apply_lora(*other, LoraConfig{.target_modules = {"lm_head"}}), ConfigError);
}

TEST(Lora, ZeroBEqualsBaseAndMergedEqualsUnmerged) {
  for (const auto& cfg : {DecoderConfig::tiny_llama(), DecoderConfig::tiny_qwen3()}) {
    SCOPED_TRACE(cfg.model_type);
    DecoderLM lm = random_lm(cfg, 4);
    const auto ids = random_ids(2, 6, 100, 5);
    torch::NoGradGuard no_grad;
    const auto base = lm->forward({.input_ids = ids}).logits;
    models::apply_lora(*lm, LoraConfig{.r = 4, .lora_alpha = 8, .lora_dropout = 0.1});
    lm->eval();
    EXPECT_TRUE(all_close(lm->forward({.input_ids = ids}).logits, base, 0.0));
    randomize_b(*lm, 6);
    const auto adapted = lm->forward({.input_ids = ids}).logits;
    EXPECT_GT((adapted - base).abs().max().item<double>(), 1e-3);  // the adapter does something
    const auto q_before = lm->layers[0]->self_attn->q_proj->weight.clone();
    models::merge_lora(*lm);
    EXPECT_TRUE(lm->layers[0]->self_attn->q_proj->merged());
    EXPECT_TRUE(all_close(lm->forward({.input_ids = ids}).logits, adapted, kMergeTol));
    models::unmerge_lora(*lm);
    EXPECT_TRUE(all_close(lm->layers[0]->self_attn->q_proj->weight, q_before, 1e-6));
    EXPECT_TRUE(all_close(lm->forward({.input_ids = ids}).logits, adapted, kMergeTol));
  }
}

TEST(Lora, SavedMergedIsAPlainFolderThatGivesTheAdaptedLogits) {
  for (const auto& cfg : {DecoderConfig::tiny_llama(), DecoderConfig::tiny_qwen3()}) {
    SCOPED_TRACE(cfg.model_type);
    TempDir dir;
    DecoderLM lm = random_lm(cfg, 4);
    const auto ids = random_ids(2, 6, 100, 5);
    models::apply_lora(*lm, LoraConfig{.r = 4, .lora_alpha = 8});
    lm->eval();
    randomize_b(*lm, 7);
    torch::NoGradGuard no_grad;
    const auto adapted = lm->forward({.input_ids = ids}).logits;
    const auto q_before = lm->layers[0]->self_attn->q_proj->weight.clone();
    models::save_decoder_merged(*lm, dir.path() + "/lm");
    // The live model is exactly as before: unmerged, its base weight bit for bit.
    EXPECT_FALSE(lm->layers[0]->self_attn->q_proj->merged());
    EXPECT_TRUE(lm->layers[0]->self_attn->q_proj->weight.equal(q_before));
    // The folder holds HF names only (no lora_ keys) and reloads into a plain LM with the
    // adapted logits, within the merge tolerance (W + sBA summed in another order).
    auto loaded = models::load_decoder(dir.path() + "/lm");
    for (const auto& p : loaded.model->named_parameters()) EXPECT_EQ(p.key().find("lora_"), std::string::npos);
    EXPECT_TRUE(all_close(loaded.model->forward({.input_ids = ids}).logits, adapted, kMergeTol));
    EXPECT_FALSE(all_close(loaded.model->layers[0]->self_attn->q_proj->weight, q_before, 1e-4));  // merged in
  }
}

TEST(Lora, GradientsReachOnlyTheAdapterAndMatchCentralDifferences) {
  auto cfg = DecoderConfig::tiny_llama();
  cfg.num_hidden_layers = 1;
  DecoderLM lm = random_lm(cfg, 7);
  models::apply_lora(*lm, LoraConfig{.r = 2, .lora_alpha = 4});
  randomize_b(*lm, 8);
  lm->to(torch::kDouble);
  const auto ids = random_ids(2, 4, 100, 9);
  torch::manual_seed(10);
  const auto proj = torch::randn({2, 4, 100}, torch::kDouble);
  check_gradients(*lm, [&] { return (lm->forward({.input_ids = ids}).logits * proj).sum(); }, /*per_param=*/2);
  for (const auto& p : lm->named_parameters())
    if (!p.value().requires_grad()) {
      EXPECT_FALSE(p.value().grad().defined()) << p.key();
    }
}

TEST(Peft, SaveWritesPeftKeysAndConfigThenLoadsBack) {
  DecoderLM lm = random_lm(DecoderConfig::tiny_llama(), 11);
  const LoraConfig cfg{.r = 4, .lora_alpha = 8, .lora_dropout = 0.05, .use_rslora = true};
  models::apply_lora(*lm, cfg);
  randomize_b(*lm, 12);
  TempDir dir;
  models::save_peft_adapter(*lm, cfg, dir.path(), "HuggingFaceTB/SmolLM-135M-Instruct");

  const auto store = io::TensorStore::open(dir.path() + "/adapter_model.safetensors");
  EXPECT_EQ(store.names().size(), 2u * 7u * 2u);
  ASSERT_TRUE(store.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
  EXPECT_EQ(store.info("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").shape,
            (std::vector<int64_t>{4, 32}));
  EXPECT_EQ(store.info("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight").shape,
            (std::vector<int64_t>{32, 4}));
  EXPECT_EQ(store.metadata().at("format"), "pt");
  std::ifstream in(dir.path() + "/adapter_config.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["peft_type"], "LORA");
  EXPECT_EQ(j["task_type"], "CAUSAL_LM");
  EXPECT_EQ(j["r"], 4);
  EXPECT_EQ(j["lora_alpha"], 8.0);
  EXPECT_EQ(j["bias"], "none");
  EXPECT_EQ(j["use_rslora"], true);
  EXPECT_EQ(j["base_model_name_or_path"], "HuggingFaceTB/SmolLM-135M-Instruct");
  EXPECT_EQ(j["target_modules"].size(), 7u);

  // A fresh copy of the same base model with the adapter loaded gives the same logits.
  DecoderLM fresh = random_lm(DecoderConfig::tiny_llama(), 11);
  const auto read = models::load_peft_adapter(*fresh, dir.path());
  EXPECT_EQ(read.lora.r, 4);
  EXPECT_TRUE(read.lora.use_rslora);
  lm->eval();
  fresh->eval();
  const auto ids = random_ids(1, 5, 100, 13);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(all_close(fresh->forward({.input_ids = ids}).logits, lm->forward({.input_ids = ids}).logits, 0.0));
}

TEST(Peft, LoadsRegexTargetsAndRejectsMismatches) {
  // A folder as PEFT writes it for target_modules=".*\.(q_proj|v_proj)" (a regex string).
  DecoderLM src = random_lm(DecoderConfig::tiny_qwen3(), 14);
  models::apply_lora(*src, LoraConfig{.r = 2, .lora_alpha = 2, .target_modules = {"q_proj", "v_proj"}});
  randomize_b(*src, 15);
  TempDir dir;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, t] : models::lora_state(*src)) tensors.emplace_back("base_model.model." + name, t.detach());
  io::save_tensors(dir.path() + "/adapter_model.safetensors", tensors, {{"format", "pt"}});
  models::write_config_json(dir.path() + "/adapter_config.json",
                            {{"peft_type", "LORA"}, {"r", 2}, {"lora_alpha", 2}, {"lora_dropout", 0.0},
                             {"target_modules", R"(.*\.(q_proj|v_proj))"}, {"bias", "none"},
                             {"task_type", "CAUSAL_LM"}, {"use_rslora", false}, {"modules_to_save", nullptr}});
  DecoderLM dst = random_lm(DecoderConfig::tiny_qwen3(), 14);
  models::load_peft_adapter(*dst, dir.path());
  const auto ids = random_ids(1, 5, 100, 16);
  src->eval();
  dst->eval();
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(all_close(dst->forward({.input_ids = ids}).logits, src->forward({.input_ids = ids}).logits, 0.0));
  }

  // r = 3 in the config but r = 2 in the file: one error naming the shape mismatches.
  models::write_config_json(dir.path() + "/adapter_config.json",
                            {{"peft_type", "LORA"}, {"r", 3}, {"lora_alpha", 2}, {"target_modules", {"q_proj", "v_proj"}}});
  DecoderLM bad = random_lm(DecoderConfig::tiny_qwen3(), 14);
  try {
    models::load_peft_adapter(*bad, dir.path());
    FAIL() << "expected a FileError";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("shape mismatch: base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"),
              std::string::npos)
        << e.what();
  }
  models::write_config_json(dir.path() + "/adapter_config.json",
                            {{"peft_type", "LORA"}, {"r", 2}, {"use_dora", true}, {"target_modules", {"q_proj"}}});
  EXPECT_THROW(models::read_peft_config(dir.path()), FileError);
}

}  // namespace
}  // namespace vlm::test
