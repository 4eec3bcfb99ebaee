// Stage 2's ways of tuning the LM and what its export holds, through `vlm train` and `vlm caption`:
// - LoRA with lm.export_merged: export/lm is a plain HF folder (no lora_ tensors, the tokenizer
//   beside it) whose weights are the base LM's plus (alpha / r) B A, restated in float64 from
//   the base LM and the exported adapter files, and the base LM's own weights elsewhere;
// - lm.full_finetune (with vision.train): every LM weight and the ViT move, the export carries both
//   (vlm.json names its own lm/ folder) and captions come from that export;
// - full fine-tuning together with LoRA is refused before any training.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/tensor_store.h"
#include "test_util.h"
#include "tiny_stage1.h"

namespace fs = std::filesystem;

namespace {

class Stage2Export : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = vlm::test::make_tiny_demo_data(dir_.path());
    // A tiny LM pretrained for two steps: the base every stage-2 run below starts from.
    const auto lm = vlm::test::run_vlm("train --config " + write("lm.yaml", sections() +
                                                                                 "lm: {path: " + data_.tokenizer_dir +
                                                                                 ", " + kLmSizes + "}\n"
                                                                                 "train: {stage: lm, steps: 2, "
                                                                                 "batch_size: 8, warmup_steps: 1, "
                                                                                 "precision: fp32}\n") +
                                       " --set run.name=lm");
    ASSERT_EQ(lm.status, 0) << lm.output;
    base_lm_ = dir_.path() + "/runs/lm/export";
  }

  std::string sections(bool train_vision = false) const {
    return vlm::test::tiny_stage1_sections(dir_.path(), data_, {.vision_train = train_vision}) +
           "schedule: {log_every: 1, eval_every: 0, eval_batches: 1, save_every: 0, sample_captions: 0}\n"
           "prompt: {max_target_tokens: 16}\n";
  }

  std::string write(const std::string& name, const std::string& yaml) const {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << yaml;
    return path;
  }

  std::string stage2(const std::string& name, const std::string& lm_section, bool train_vision) const {
    return write(name + ".yaml", sections(train_vision) + "lm: {path: " + base_lm_ + ", " + lm_section + "}\n" +
                                     "train: {stage: stage2, steps: 3, batch_size: 4, lr: 1.0e-3, lr_head: 2.0e-3,"
                                     " warmup_steps: 1, precision: fp32}\n");
  }

  static constexpr const char* kLmSizes =
      "hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, intermediate_size: 64";

  vlm::test::TempDir dir_;
  vlm::train::DemoData data_;
  std::string base_lm_;
};

double max_abs_diff(const vlm::io::TensorStore& a, const vlm::io::TensorStore& b, const std::string& name) {
  return (a.get(name).to(at::kDouble) - b.get(name).to(at::kDouble)).abs().max().item<double>();
}

}  // namespace

TEST_F(Stage2Export, LoraWithExportMergedWritesAPlainLmFolder) {
  const auto r = vlm::test::run_vlm("train --config " +
                                    stage2("merged", "lora_enabled: true, export_merged: true, lora: {r: 4, alpha: 8,"
                                                     " dropout: 0.0}",
                                           false) +
                                    " --set run.name=merged");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string exp = dir_.path() + "/runs/merged/export";
  ASSERT_TRUE(fs::exists(exp + "/lora/adapter_model.safetensors"));
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::exists(exp + "/lm/" + f)) << f;
  }
  const auto merged = vlm::io::TensorStore::open(exp + "/lm/model.safetensors");
  const auto base = vlm::io::TensorStore::open(base_lm_ + "/model.safetensors");
  EXPECT_EQ(merged.names(), base.names());  // HF names only: no lora_A / lora_B
  // LoRA was on every linear layer: those moved; the embeddings and norms it does not touch did not.
  EXPECT_GT(max_abs_diff(merged, base, "model.layers.0.self_attn.q_proj.weight"), 1e-4);
  EXPECT_GT(max_abs_diff(merged, base, "model.layers.0.mlp.down_proj.weight"), 1e-4);
  EXPECT_EQ(max_abs_diff(merged, base, "model.embed_tokens.weight"), 0.0);
  EXPECT_EQ(max_abs_diff(merged, base, "model.norm.weight"), 0.0);
  // Every merged weight restated from the files alone: W + (lora_alpha / r) B A (float64) where
  // the adapter file has an A and a B for it, W itself everywhere else.
  const auto adapter = vlm::io::TensorStore::open(exp + "/lora/adapter_model.safetensors");
  const auto peft = nlohmann::json::parse(vlm::io::read_file(exp + "/lora/adapter_config.json"));
  ASSERT_FALSE(peft.value("use_rslora", false));
  const double scaling = peft.at("lora_alpha").get<double>() / peft.at("r").get<double>();
  EXPECT_DOUBLE_EQ(scaling, 2.0);  // alpha 8 / r 4, as configured
  std::map<std::string, std::string> a_of;  // HF weight name -> adapter key of its A
  const std::string a_suffix = ".lora_A.weight";
  for (const auto& key : adapter.names()) {
    if (key.size() <= a_suffix.size() || key.compare(key.size() - a_suffix.size(), a_suffix.size(), a_suffix) != 0)
      continue;
    std::string module = key.substr(0, key.size() - a_suffix.size());  // base_model.model.<hf module>
    while (!base.contains(module + ".weight") && module.find('.') != std::string::npos) module = module.substr(module.find('.') + 1);
    ASSERT_TRUE(base.contains(module + ".weight")) << "no base weight for adapter tensor " << key;
    a_of[module + ".weight"] = key;
  }
  EXPECT_GE(a_of.size(), 7u);  // q, k, v, o, gate, up, down of the one layer
  for (const auto& name : base.names()) {
    const at::Tensor w = base.get(name).to(at::kDouble), got = merged.get(name).to(at::kDouble);
    at::Tensor want = w;
    if (a_of.count(name)) {
      const std::string& a_key = a_of.at(name);
      const std::string b_key = a_key.substr(0, a_key.size() - a_suffix.size()) + ".lora_B.weight";
      const at::Tensor A = adapter.get(a_key).to(at::kDouble), B = adapter.get(b_key).to(at::kDouble);  // (R, I), (O, R)
      want = w + scaling * B.matmul(A);  // (O, I)
      EXPECT_GT((want - w).abs().max().item<double>(), 1e-6) << name << ": B A is zero, the check proves nothing";
    }
    // fp32 weights: the merge rounds once, |W| ~ 0.1-1.
    EXPECT_LE((got - want).abs().max().item<double>(), 1e-6) << name;
  }
  const auto manifest = nlohmann::json::parse(vlm::io::read_file(exp + "/vlm.json"));
  EXPECT_TRUE(manifest.at("lora").get<bool>());
  EXPECT_EQ(manifest.at("merged_lm").get<std::string>(), "lm");
}

TEST_F(Stage2Export, FullFinetuneTrainsTheLmAndTheVitAndExportsThem) {
  const auto r = vlm::test::run_vlm("train --config " +
                                    stage2("full", "lora_enabled: false, full_finetune: true", true) +
                                    " --set run.name=full");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("every weight trained"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("group vision:"), std::string::npos) << r.output;  // the ViT has its optimizer group
  const std::string exp = dir_.path() + "/runs/full/export";
  EXPECT_FALSE(fs::exists(exp + "/lora"));
  const auto manifest = nlohmann::json::parse(vlm::io::read_file(exp + "/vlm.json"));
  EXPECT_EQ(manifest.at("lm").get<std::string>(), "lm");
  EXPECT_FALSE(manifest.at("lora").get<bool>());
  const auto tuned = vlm::io::TensorStore::open(exp + "/lm/model.safetensors");
  const auto base = vlm::io::TensorStore::open(base_lm_ + "/model.safetensors");
  EXPECT_GT(max_abs_diff(tuned, base, "model.embed_tokens.weight"), 1e-4);  // not a LoRA-reachable weight
  EXPECT_GT(max_abs_diff(tuned, base, "model.norm.weight"), 1e-4);
  // The ViT was trained here, so the export holds it.
  ASSERT_TRUE(fs::exists(exp + "/vision/model.safetensors"));
  // The export captions on its own (the base LM folder is not needed any more).
  fs::remove_all(base_lm_);
  const auto caption = vlm::test::run_vlm("caption --model " + exp + " " + data_.eval_dir + "/00000.png" +
                                          " --max-new-tokens 4");
  EXPECT_EQ(caption.status, 0) << caption.output;
}

TEST_F(Stage2Export, FullFinetuneWithLoraIsRefusedBeforeTraining) {
  const auto r = vlm::test::run_vlm("train --config " + stage2("both", "lora_enabled: true, full_finetune: true", false) +
                                    " --set run.name=both");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("lm.full_finetune"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_.path() + "/runs/both/checkpoints"));
}
