// DistilBERT and BERT (models/bert.h): HF-layout loading for both layouts, a plain-tensor reference
// forward, a hand-derived attention, padding == one by one, finite-difference gradients, save -> load.
// Shape letters: B batch, T tokens, D width.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/torch_compat.h"
#include "encoder_test_util.h"
#include "models/bert.h"
#include "models/encoder_ops.h"
#include "test_util.h"

namespace vlm::models {
namespace {

using test::TempDir;
using State = std::vector<std::pair<std::string, at::Tensor>>;

// modeling_distilbert.py / modeling_bert.py written out with plain tensor ops and the HF names of each layout.
at::Tensor encoder_reference(const TextEncoder& m, const at::Tensor& ids, const at::Tensor& mask) {
  const auto w = test::params_of(*m);
  const EncoderDims& d = m->dims();
  const bool bert = d.layout == EncoderLayout::kBert;
  const int64_t B = ids.size(0), T = ids.size(1), D = d.hidden_size, H = d.num_heads, Dh = D / H;
  auto x = w.at("embeddings.word_embeddings.weight").index_select(0, ids.flatten()).view({B, T, D}) +
           w.at("embeddings.position_embeddings.weight").slice(0, 0, T);
  if (bert) x = x + w.at("embeddings.token_type_embeddings.weight")[0];
  x = test::layer_norm_ref(x, w.at("embeddings.LayerNorm.weight"), w.at("embeddings.LayerNorm.bias"), d.layer_norm_eps);
  auto lin = [&](const at::Tensor& h, const std::string& n) { return torch::matmul(h, w.at(n + ".weight").t()) + w.at(n + ".bias"); };
  auto ln = [&](const at::Tensor& h, const std::string& n) { return test::layer_norm_ref(h, w.at(n + ".weight"), w.at(n + ".bias"), d.layer_norm_eps); };
  const auto keep = mask.view({B, 1, 1, T}).to(torch::kBool);
  for (int64_t l = 0; l < d.num_layers; ++l) {
    const std::string L = (bert ? "encoder.layer." : "transformer.layer.") + std::to_string(l) + ".";
    auto heads = [&](const std::string& n) { return lin(x, L + n).view({B, T, H, Dh}).permute({0, 2, 1, 3}); };
    auto scores = torch::matmul(heads(bert ? "attention.self.query" : "attention.q_lin"),
                                heads(bert ? "attention.self.key" : "attention.k_lin").transpose(2, 3)) / std::sqrt(double(Dh));
    scores = scores.masked_fill(keep.logical_not(), -1e30);
    const auto ctx = torch::matmul(torch::softmax(scores, -1), heads(bert ? "attention.self.value" : "attention.v_lin"))
                         .permute({0, 2, 1, 3}).reshape({B, T, D});
    x = bert ? ln(x + lin(ctx, L + "attention.output.dense"), L + "attention.output.LayerNorm")
             : ln(x + lin(ctx, L + "attention.out_lin"), L + "sa_layer_norm");
    const auto u = lin(x, L + (bert ? "intermediate.dense" : "ffn.lin1"));
    const auto g = test::gelu_ref(u);
    x = bert ? ln(x + lin(g, L + "output.dense"), L + "output.LayerNorm") : ln(x + lin(g, L + "ffn.lin2"), L + "output_layer_norm");
  }
  return x;
}

// A task-model folder: DistilBertForMaskedLM (`distilbert.` + vocab_* head) or BertForPreTraining
// (`bert.` + cls.*, LayerNorm.gamma/beta as bert-base-uncased stores them).
TextEncoder write_folder(const std::string& dir, bool bert, const std::function<void(State&)>& edit = {}) {
  torch::manual_seed(11);
  TextEncoder src = bert ? TextEncoder(BertConfig::tiny()) : TextEncoder(DistilBertConfig::tiny());
  test::randomize(*src, 12);
  State state = test::state_of(*src, bert ? "bert." : "distilbert.");
  if (bert) {
    for (auto& [name, t] : state) {
      if (name.ends_with("LayerNorm.weight")) name.replace(name.size() - 6, 6, "gamma");
      if (name.ends_with("LayerNorm.bias")) name.replace(name.size() - 4, 4, "beta");
    }
    state.emplace_back("cls.predictions.bias", torch::zeros({100}));
    state.emplace_back("cls.seq_relationship.weight", torch::zeros({2, 32}));
  } else {
    state.emplace_back("vocab_transform.weight", torch::zeros({32, 32}));
    state.emplace_back("vocab_projector.bias", torch::zeros({100}));
  }
  if (edit) edit(state);
  test::write_hf_folder(dir, bert ? BertConfig::tiny().to_json() : DistilBertConfig::tiny().to_json(), state);
  src->eval();
  return src;
}

class TextEncoderLayouts : public ::testing::TestWithParam<bool> {};

TEST_P(TextEncoderLayouts, LoadsTaskCheckpointAndMatchesReference) {
  TempDir dir;
  const bool bert = GetParam();
  TextEncoder src = write_folder(dir.path(), bert);
  LoadedTextEncoder loaded = load_text_encoder(dir.path());
  EXPECT_EQ(loaded.model_type, bert ? "bert" : "distilbert");
  const auto ids = torch::randint(1, 100, {2, 7});
  auto mask = torch::ones({2, 7}, torch::kLong);
  mask[1].slice(0, 4).fill_(0);
  torch::NoGradGuard no_grad;
  const auto out = loaded.model->forward(ids, mask);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 7, 32}));
  EXPECT_TRUE(torch::equal(out, src->forward(ids, mask)));
  const auto ref = encoder_reference(loaded.model, ids, mask);
  EXPECT_TRUE(test::all_close(out[0], ref[0], test::kFp32Close));
  EXPECT_TRUE(test::all_close(out[1].slice(0, 0, 4), ref[1].slice(0, 0, 4), test::kFp32Close));
}

TEST_P(TextEncoderLayouts, LoadErrorsNameTheTensor) {
  const bool bert = GetParam();
  const std::string p = bert ? "bert." : "distilbert.";
  const std::string q = bert ? "encoder.layer.0.attention.self.query.weight" : "transformer.layer.0.attention.q_lin.weight";
  auto expect_error = [&](const std::function<void(State&)>& edit, const std::string& needle) {
    TempDir dir;
    write_folder(dir.path(), bert, edit);
    try {
      load_text_encoder(dir.path());
      ADD_FAILURE() << "expected a FileError mentioning " << needle;
    } catch (const FileError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([&](State& s) { std::erase_if(s, [&](auto& kv) { return kv.first == p + q; }); },
               "missing: [" + p + "]" + q + " [32, 32]");
  expect_error([&](State& s) { s.emplace_back(p + "encoder.extra", torch::zeros({3})); }, "unexpected: " + p + "encoder.extra [3]");
  expect_error([&](State& s) {
                 for (auto& kv : s)
                   if (kv.first == p + "embeddings.word_embeddings.weight") kv.second = torch::zeros({99, 32});
               },
               "shape mismatch: " + p + "embeddings.word_embeddings.weight: model expects [100, 32], file has [99, 32]");
}

TEST_P(TextEncoderLayouts, PaddedBatchEqualsOneByOne) {
  const bool bert = GetParam();
  torch::manual_seed(13);
  TextEncoder m = bert ? TextEncoder(BertConfig::tiny()) : TextEncoder(DistilBertConfig::tiny());
  test::randomize(*m, 14);
  m->eval();
  torch::NoGradGuard no_grad;
  const auto a = torch::randint(1, 100, {1, 6}), b = torch::randint(1, 100, {1, 3});
  const auto ids = torch::cat({a, torch::cat({b, torch::zeros({1, 3}, torch::kLong)}, 1)}, 0);  // (2, 6)
  auto mask = torch::ones({2, 6}, torch::kLong);
  mask[1].slice(0, 3).fill_(0);
  const auto batched = m->forward(ids, mask);
  EXPECT_TRUE(test::all_close(batched[0], m->forward(a)[0], test::kFp32Close));
  EXPECT_TRUE(test::all_close(batched[1].slice(0, 0, 3), m->forward(b)[0], test::kFp32Close));
}

TEST_P(TextEncoderLayouts, GradientsMatchCentralDifferences) {
  const bool bert = GetParam();
  torch::manual_seed(15);
  TextEncoder m = bert ? TextEncoder(BertConfig::tiny()) : TextEncoder(DistilBertConfig::tiny());
  test::randomize(*m, 16);
  m->to(torch::kDouble);
  m->eval();
  const auto ids = torch::randint(1, 100, {2, 5});
  auto mask = torch::ones({2, 5}, torch::kLong);
  mask[1][4] = 0;
  const auto probe = torch::randn({2, 5, 32}, torch::kDouble);
  test::check_gradients(*m, [&] {
    const auto h = m->forward(ids, mask);
    return (h * probe).sum() + (bert ? m->pool(h).sum() : torch::zeros({}, torch::kDouble));  // BERT: the pooler too
  }, /*per_param=*/2);
}

TEST_P(TextEncoderLayouts, SaveLoadRoundTrip) {
  TempDir dir;
  const bool bert = GetParam();
  TextEncoder m = bert ? TextEncoder(BertConfig::tiny()) : TextEncoder(DistilBertConfig::tiny());
  test::randomize(*m, 17);
  m->eval();
  models::write_config_json(dir.path() + "/config.json",
                            bert ? BertConfig::tiny().to_json() : DistilBertConfig::tiny().to_json());
  save_weights(*m, dir.path() + "/model.safetensors", text_encoder_name_table(m->dims()));
  LoadedTextEncoder back = load_text_encoder(dir.path());
  const auto ids = torch::randint(1, 100, {2, 5});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(back.model->forward(ids), m->forward(ids)));
  if (bert) {
    EXPECT_EQ(back.model->pool(back.model->forward(ids)).sizes(), (std::vector<int64_t>{2, 32}));
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, TextEncoderLayouts, ::testing::Values(false, true),
                         [](const auto& info) { return std::string(info.param ? "Bert" : "DistilBert"); });

TEST(TextEncoder, HandDerivedSingleHeadAttention) {
  // One head, D = 2, identity projections: x = [[1,0],[0,1]] gives scores diag(a, a) with a = 1/sqrt(2);
  // row 0 attends with weights (e^a, 1)/(e^a + 1), so its context is that vector itself.
  Linear q(2, 2), k(2, 2), v(2, 2);
  {
    torch::NoGradGuard no_grad;
    for (auto* l : {&q, &k, &v}) {
      (*l)->weight.copy_(torch::eye(2));
      (*l)->bias.zero_();
    }
  }
  const auto x = torch::eye(2).unsqueeze(0);  // (1, 2, 2)
  const double a = 1 / std::sqrt(2.0), p0 = std::exp(a) / (std::exp(a) + 1);
  torch::NoGradGuard no_grad;
  const auto ctx = multi_head_attention(q, k, v, x, x, {}, /*num_heads=*/1, 0.0, false);
  EXPECT_TRUE(test::all_close(ctx[0], torch::tensor({{p0, 1 - p0}, {1 - p0, p0}}, torch::kFloat), 1e-6));
  // Masking token 1 out leaves token 0 attending only to itself.
  const auto masked = multi_head_attention(q, k, v, x, x, additive_padding_mask(torch::tensor({{1, 0}}), torch::kFloat),
                                           1, 0.0, false);
  EXPECT_TRUE(test::all_close(masked[0], torch::tensor({{1.0, 0.0}, {1.0, 0.0}}, torch::kFloat), 1e-6));
}

TEST(TextEncoder, CompatAttentionEqualsReference) {
  torch::manual_seed(18);
  const auto q = torch::randn({2, 3, 5, 4}), k = torch::randn({2, 3, 7, 4}), v = torch::randn({2, 3, 7, 4});
  auto allowed = torch::ones({2, 1, 1, 7}, torch::kBool);
  allowed[1].select(-1, 6) = false;
  const auto mask = additive_from_bool(allowed, torch::kFloat);
  for (const bool causal : {false, true})
    EXPECT_TRUE(test::all_close(compat::attention(q, k, v, mask, causal, 0.3),
                                compat::attention_reference(q, k, v, mask, causal, 0.3), 1e-6));
}

TEST(TextEncoder, ConfigsFromJsonWithDefaultsAndValidation) {
  TempDir dir;
  models::write_config_json(dir.path() + "/config.json", {{"model_type", "distilbert"}, {"dim", 64}, {"n_heads", 4}});
  const auto d = DistilBertConfig::from_json(dir.path());
  EXPECT_EQ(d.dim, 64);
  EXPECT_EQ(d.n_layers, 6);
  EXPECT_EQ(d.hidden_dim, 3072);
  auto bad = DistilBertConfig::tiny();
  bad.n_heads = 3;
  EXPECT_THROW(bad.validate(), ConfigError);
  auto b = BertConfig::tiny();
  b.position_embedding_type = "relative_key";
  EXPECT_THROW(b.validate(), ConfigError);
  models::write_config_json(dir.path() + "/config.json", {{"model_type", "bert"}, {"hidden_size", "wide"}});
  EXPECT_THROW(BertConfig::from_json(dir.path()), FileError);
  models::write_config_json(dir.path() + "/config.json", {{"model_type", "llama"}});
  EXPECT_THROW(load_text_encoder(dir.path()), FileError);
}

TEST(TextEncoder, SinusoidalPositionsAsDistilBert) {
  auto cfg = DistilBertConfig::tiny();
  cfg.sinusoidal_pos_embds = true;
  TextEncoder m(cfg);
  const auto pe = m->named_parameters()["embeddings.position_embeddings.weight"];
  EXPECT_FALSE(pe.requires_grad());
  // Position 3, columns 4 and 5: sin / cos of 3 / 10000^(4/32).
  const double angle = 3.0 / std::pow(10000.0, 4.0 / 32.0);
  EXPECT_NEAR(pe[3][4].item<double>(), std::sin(angle), 1e-6);
  EXPECT_NEAR(pe[3][5].item<double>(), std::cos(angle), 1e-6);
}

}  // namespace
}  // namespace vlm::models
