// ViTModel (models/vit.h): HF-layout loading, an independent plain-tensor reference forward,
// position-embedding interpolation, finite-difference gradients, save -> load.
// Shape letters: B batch, C channels, P patches, N = 1 + P tokens, D width.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "encoder_test_util.h"
#include "models/vit.h"
#include "test_util.h"

namespace vlm::models {
namespace {

using test::TempDir;

using test::gelu_ref;
using test::layer_norm_ref;
using test::params_of;

// A convolution as unfold + matmul: (B, C, H, W) -> (B, C', H', W').
at::Tensor conv_reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, int64_t kernel,
                          int64_t stride, int64_t padding) {
  namespace F = torch::nn::functional;
  const auto cols = F::unfold(x, F::UnfoldFuncOptions({kernel, kernel}).stride(stride).padding(padding));
  const int64_t out = (x.size(2) + 2 * padding - kernel) / stride + 1;
  const auto y = torch::matmul(weight.reshape({weight.size(0), -1}), cols) + bias.view({1, -1, 1});
  return y.view({x.size(0), weight.size(0), out, -1});
}

// modeling_vit.py written out with plain tensor ops (unfold for the convolutions, explicit
// softmax), and our optional conv stem (3x3 stride-2 convs + ReLU) before the patch projection.
at::Tensor vit_reference(const std::map<std::string, at::Tensor>& w, const ViTConfig& c, const at::Tensor& px) {
  const int64_t B = px.size(0), D = c.hidden_size, H = c.num_attention_heads, Dh = D / H;
  int64_t p = c.patch_size;
  at::Tensor pixels = px;
  for (size_t i = 0; i < c.stem_channels.size(); ++i) {
    const std::string conv = "embeddings.patch_embeddings.stem." + std::to_string(2 * i);  // ReLUs sit between
    pixels = torch::relu(conv_reference(pixels, w.at(conv + ".weight"), w.at(conv + ".bias"), 3, 2, 1));
    p /= 2;
  }
  const auto cols = torch::nn::functional::unfold(pixels, torch::nn::functional::UnfoldFuncOptions({p, p}).stride(p));
  const auto proj = w.at("embeddings.patch_embeddings.projection.weight").reshape({D, -1});     // (D, C*p*p)
  auto x = (torch::matmul(proj, cols) + w.at("embeddings.patch_embeddings.projection.bias").view({1, D, 1}))
               .transpose(1, 2);                                                                  // (B, P, D)
  x = torch::cat({w.at("embeddings.cls_token").expand({B, 1, D}), x}, 1) + w.at("embeddings.position_embeddings");
  const int64_t N = x.size(1);
  auto lin = [&](const at::Tensor& h, const std::string& name) {
    return torch::matmul(h, w.at(name + ".weight").t()) + w.at(name + ".bias");
  };
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string L = "encoder.layer." + std::to_string(l) + ".";
    auto h = layer_norm_ref(x, w.at(L + "layernorm_before.weight"), w.at(L + "layernorm_before.bias"), c.layer_norm_eps);
    auto heads = [&](const std::string& n) { return lin(h, L + "attention.attention." + n).view({B, N, H, Dh}).permute({0, 2, 1, 3}); };
    const auto scores = torch::matmul(heads("query"), heads("key").transpose(2, 3)) / std::sqrt(double(Dh));  // (B, H, N, N)
    const auto e = torch::exp(scores - std::get<0>(scores.max(-1, true)));
    const auto ctx = torch::matmul(e / e.sum(-1, true), heads("value")).permute({0, 2, 1, 3}).reshape({B, N, D});
    x = x + lin(ctx, L + "attention.output.dense");
    h = layer_norm_ref(x, w.at(L + "layernorm_after.weight"), w.at(L + "layernorm_after.bias"), c.layer_norm_eps);
    const auto u = lin(h, L + "intermediate.dense");
    x = x + lin(gelu_ref(u), L + "output.dense");
  }
  return layer_norm_ref(x, w.at("layernorm.weight"), w.at("layernorm.bias"), c.layer_norm_eps);
}

// A ViTForImageClassification-style folder: `vit.` names plus a classifier head.
ViTModel write_classification_folder(const std::string& dir, const ViTConfig& cfg,
                                     const std::function<void(std::vector<std::pair<std::string, at::Tensor>>&)>& edit = {}) {
  torch::manual_seed(3);
  ViTModel src(cfg);
  test::randomize(*src, 4);
  auto state = test::state_of(*src, "vit.");
  state.emplace_back("classifier.weight", torch::randn({10, cfg.hidden_size}));
  state.emplace_back("classifier.bias", torch::randn({10}));
  if (edit) edit(state);
  auto json = cfg.to_json();
  json["architectures"] = {"ViTForImageClassification"};
  json["id2label"] = {{"0", "cat"}};
  test::write_hf_folder(dir, json, state);
  src->eval();
  return src;
}

TEST(ViT, LoadsClassificationCheckpointAndMatchesReference) {
  TempDir dir;
  const ViTConfig cfg = ViTConfig::tiny();
  ViTModel src = write_classification_folder(dir.path(), cfg);
  LoadedViT loaded = load_vit(dir.path());
  EXPECT_FALSE(loaded.config.add_pooling_layer);
  torch::manual_seed(5);
  const auto px = torch::randn({2, 3, 32, 32});
  torch::NoGradGuard no_grad;
  const auto out = loaded.model->forward(px);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 1 + 16, 32}));
  EXPECT_TRUE(torch::equal(out, src->forward(px)));
  EXPECT_TRUE(test::all_close(out, vit_reference(params_of(*loaded.model), cfg, px), test::kFp32Close));
}

TEST(ViT, LoadErrorsNameTheTensor) {
  const ViTConfig cfg = ViTConfig::tiny();
  auto expect_error = [&](const std::function<void(std::vector<std::pair<std::string, at::Tensor>>&)>& edit,
                          const std::string& needle) {
    TempDir dir;
    write_classification_folder(dir.path(), cfg, edit);
    try {
      load_vit(dir.path());
      ADD_FAILURE() << "expected a FileError mentioning " << needle;
    } catch (const FileError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([](auto& s) { std::erase_if(s, [](auto& kv) { return kv.first == "vit.encoder.layer.1.output.dense.bias"; }); },
               "missing: [vit.]encoder.layer.1.output.dense.bias [32]");
  expect_error([](auto& s) { s.emplace_back("vit.encoder.layer.2.output.dense.bias", torch::zeros({32})); },
               "unexpected: vit.encoder.layer.2.output.dense.bias [32]");
  expect_error([](auto& s) {
                 for (auto& kv : s)
                   if (kv.first == "vit.embeddings.position_embeddings") kv.second = torch::zeros({1, 5, 32});
               },
               "shape mismatch: vit.embeddings.position_embeddings: model expects [1, 17, 32], file has [1, 5, 32]");
}

TEST(ViT, PoolerIsBuiltWhenTheWeightsHaveOne) {
  TempDir dir;
  ViTConfig cfg = ViTConfig::tiny();
  cfg.add_pooling_layer = true;
  ViTModel src(cfg);
  test::write_hf_folder(dir.path(), cfg.to_json(), test::state_of(*src, ""));
  LoadedViT loaded = load_vit(dir.path());
  ASSERT_TRUE(loaded.config.add_pooling_layer);
  torch::NoGradGuard no_grad;
  const auto h = loaded.model->forward(torch::randn({2, 3, 32, 32}));
  EXPECT_EQ(loaded.model->pool(h).sizes(), (std::vector<int64_t>{2, 32}));
}

TEST(ViT, PositionInterpolation) {
  ViTModel vit(ViTConfig::tiny());
  torch::NoGradGuard no_grad;
  // Same size: the embeddings themselves.
  EXPECT_TRUE(vit->interpolate_pos_encoding(32, 32).is_same(vit->named_parameters()["embeddings.position_embeddings"]));
  // A constant field stays constant under bicubic resampling; the [CLS] row is kept.
  vit->named_parameters()["embeddings.position_embeddings"].fill_(0.25);
  const auto big = vit->interpolate_pos_encoding(48, 40);
  ASSERT_EQ(big.sizes(), (std::vector<int64_t>{1, 1 + 6 * 5, 32}));
  EXPECT_TRUE(test::all_close(big, torch::full_like(big, 0.25), 1e-6));
  EXPECT_EQ(vit->forward(torch::randn({1, 3, 48, 40})).sizes(), (std::vector<int64_t>{1, 31, 32}));
  EXPECT_THROW(vit->forward(torch::randn({1, 3, 48, 40}), /*interpolate_pos_encoding=*/false), c10::Error);
  EXPECT_THROW(vit->forward(torch::randn({1, 4, 32, 32})), c10::Error);
}

TEST(ViT, GradientsMatchCentralDifferences) {
  torch::manual_seed(6);
  ViTConfig cfg = ViTConfig::tiny();
  cfg.num_hidden_layers = 1;
  ViTModel vit(cfg);
  test::randomize(*vit, 7);
  vit->to(torch::kDouble);
  vit->eval();
  const auto px = torch::randn({2, 3, 32, 32}, torch::kDouble);
  const auto probe = torch::randn({2, 17, 32}, torch::kDouble);
  test::check_gradients(*vit, [&] { return (vit->forward(px) * probe).sum(); }, /*per_param=*/3);
}

TEST(ViT, SaveLoadRoundTripAndInit) {
  TempDir dir;
  ViTConfig cfg = ViTConfig::tiny();
  torch::manual_seed(8);
  ViTModel vit(cfg);
  // transformers' init: truncated normal with std initializer_range; LayerNorm 1, biases 0.
  const auto w = vit->named_parameters()["encoder.layer.0.intermediate.dense.weight"];
  EXPECT_NEAR(w.std().item<double>(), cfg.initializer_range, 0.003);
  EXPECT_TRUE(torch::equal(vit->named_parameters()["layernorm.weight"], torch::ones({32})));
  EXPECT_TRUE(torch::equal(vit->named_parameters()["encoder.layer.0.output.dense.bias"], torch::zeros({32})));
  test::randomize(*vit, 9);
  vit->eval();
  models::write_config_json(dir.path() + "/config.json", cfg.to_json());
  save_weights(*vit, dir.path() + "/model.safetensors", vit_name_table(cfg));
  LoadedViT back = load_vit(dir.path());
  const auto px = torch::randn({1, 3, 32, 32});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(back.model->forward(px), vit->forward(px)));
}

TEST(ViT, ConvStemMatchesReferenceGradientsAndRoundTrips) {
  TempDir dir;
  ViTConfig cfg = ViTConfig::tiny();
  cfg.stem_channels = {4, 6};  // 32 px -> 8 x 8 after the stem; 8-pixel patches -> 2 x 2 projection
  torch::manual_seed(10);
  ViTModel vit(cfg);
  // The stem keeps PyTorch's conv init, uniform(+-1/sqrt(fan_in)): std 1/sqrt(3 * 27), not 0.02.
  const auto w0 = vit->named_parameters()["embeddings.patch_embeddings.stem.0.weight"];
  ASSERT_EQ(w0.sizes(), (std::vector<int64_t>{4, 3, 3, 3}));
  EXPECT_NEAR(w0.std().item<double>(), 1.0 / std::sqrt(81.0), 0.03);
  EXPECT_EQ(vit->named_parameters()["embeddings.patch_embeddings.projection.weight"].sizes(),
            (std::vector<int64_t>{32, 6, 2, 2}));
  test::randomize(*vit, 11);
  vit->eval();
  const auto px = torch::randn({2, 3, 32, 32});
  {
    torch::NoGradGuard no_grad;
    const auto out = vit->forward(px);
    ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 1 + 16, 32}));
    EXPECT_TRUE(test::all_close(out, vit_reference(params_of(*vit), cfg, px), test::kFp32Close));
  }
  // config.json carries the stem, so the folder loads back into the same model.
  models::write_config_json(dir.path() + "/config.json", cfg.to_json());
  save_weights(*vit, dir.path() + "/model.safetensors", vit_name_table(cfg));
  LoadedViT back = load_vit(dir.path());
  EXPECT_EQ(back.config.stem_channels, cfg.stem_channels);
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(back.model->forward(px), vit->forward(px)));
  }
  cfg.num_hidden_layers = 1;
  ViTModel small(cfg);
  test::randomize(*small, 12);
  small->to(torch::kDouble);
  const auto pxd = torch::randn({1, 3, 32, 32}, torch::kDouble);
  const auto probe = torch::randn({1, 17, 32}, torch::kDouble);
  test::check_gradients(*small, [&] { return (small->forward(pxd) * probe).sum(); }, /*per_param=*/3);
  // No stem, no key: plain HF configs stay as they were.
  EXPECT_FALSE(ViTConfig::tiny().to_json().contains("stem_channels"));
}

TEST(ViT, ConfigValidationAndDefaults) {
  TempDir dir;
  models::write_config_json(dir.path() + "/config.json", {{"model_type", "vit"}, {"hidden_size", 64}});
  const ViTConfig c = ViTConfig::from_json(dir.path());
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.patch_size, 16);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-12);
  ViTConfig bad = ViTConfig::tiny();
  bad.num_attention_heads = 5;
  EXPECT_THROW(bad.validate(), ConfigError);
  bad = ViTConfig::tiny();
  bad.hidden_act = "bogus";
  EXPECT_THROW(bad.validate(), ConfigError);
  bad = ViTConfig::tiny();
  bad.stem_channels = {4, 4, 4, 4};  // 16x downsampling for 8-pixel patches
  EXPECT_THROW(bad.validate(), ConfigError);
  bad.stem_channels = {4, 0};
  EXPECT_THROW(bad.validate(), ConfigError);
  models::write_config_json(dir.path() + "/config.json", {{"model_type", "vit"}, {"stem_channels", {4, "wide"}}});
  EXPECT_THROW(ViTConfig::from_json(dir.path()), FileError);
  models::write_config_json(dir.path() + "/config.json", {{"model_type", "bert"}});
  EXPECT_THROW(ViTConfig::from_json(dir.path()), FileError);
}

}  // namespace
}  // namespace vlm::models
