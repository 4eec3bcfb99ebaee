// `vlm forward` end to end: tiny HF folders written by the test (Llama with a padded batch, ViT),
// inputs in a safetensors file, outputs compared with the in-process forward.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "io/tensor_store.h"
#include "models/vit.h"
#include "test_util.h"
#include "unit/decoder/decoder_test_util.h"

namespace vlm::test {
namespace {

std::string str_args(const TempDir& dir, const std::string& model) {
  return "forward --model " + dir.path() + "/" + model + " --inputs " + dir.path() + "/in.safetensors --out " +
         dir.path() + "/out.safetensors";
}

TEST(ForwardCommand, CausalLmWritesHiddenStatesAndLogits) {
  TempDir dir;
  auto lm = random_lm(models::DecoderConfig::tiny_llama(), 1);
  write_lm_folder(dir.path() + "/lm", *lm, at::kBFloat16);  // bf16 file, fp32 compute
  const auto ids = random_ids(2, 5, 100, 2);
  const auto mask = torch::tensor({{1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}}, torch::kLong);
  io::save_tensors(dir.path() + "/in.safetensors", {{"input_ids", ids}, {"attention_mask", mask}});
  const auto run = run_vlm(str_args(dir, "lm"));
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("logits [2, 5, 100]"), std::string::npos) << run.output;

  const auto out = io::TensorStore::open(dir.path() + "/out.safetensors");
  auto loaded = models::load_decoder(dir.path() + "/lm");
  torch::NoGradGuard no_grad;
  const auto ref = loaded.model->forward({.input_ids = ids, .attention_mask = mask});
  EXPECT_EQ(out.get("logits").scalar_type(), at::kFloat);
  EXPECT_TRUE(all_close(out.get("logits"), ref.logits, 0.0));
  EXPECT_TRUE(all_close(out.get("last_hidden_state"), ref.last_hidden_state, 0.0));
}

TEST(ForwardCommand, VitWritesLastHiddenState) {
  TempDir dir;
  torch::manual_seed(3);
  models::ViTModel vit(models::ViTConfig::tiny());
  randomize(*vit, 4);
  vit->eval();
  std::filesystem::create_directories(dir.path() + "/vit");
  write_hf_folder(dir.path() + "/vit", models::ViTConfig::tiny().to_json(), state_of(*vit, ""));
  const auto pixels = torch::randn({2, 3, 32, 32});
  io::save_tensors(dir.path() + "/in.safetensors", {{"pixel_values", pixels}});
  const auto run = run_vlm(str_args(dir, "vit"));
  ASSERT_EQ(run.status, 0) << run.output;
  torch::NoGradGuard no_grad;
  const auto out = io::TensorStore::open(dir.path() + "/out.safetensors");
  EXPECT_TRUE(all_close(out.get("last_hidden_state"), vit->forward(pixels), 1e-6));
  EXPECT_FALSE(out.contains("logits"));
}

TEST(ForwardCommand, MissingInputAndUnknownFamilyFailWithOneLine) {
  TempDir dir;
  auto lm = random_lm(models::DecoderConfig::tiny_qwen3(), 5);
  write_lm_folder(dir.path() + "/lm", *lm, at::kFloat);
  io::save_tensors(dir.path() + "/in.safetensors", {{"pixel_values", torch::zeros({1, 3, 4, 4})}});
  auto run = run_vlm(str_args(dir, "lm"));
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("input_ids"), std::string::npos) << run.output;
  models::write_config_json(dir.path() + "/lm/config.json", {{"model_type", "gpt2"}});
  run = run_vlm(str_args(dir, "lm"));
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("gpt2"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace vlm::test
