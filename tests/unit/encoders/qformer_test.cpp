// The Q-Former (models/qformer.h): initialisation from DistilBERT/BERT folders through the name table,
// the four attention modes and what each output may depend on, padding == one by one, similarity,
// finite-difference gradients, save -> load.
// Shape letters: B batch, Q queries, T text tokens, P vision tokens, D width, Dv vision width, E embedding.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/torch_compat.h"
#include "encoder_test_util.h"
#include "models/qformer.h"
#include "test_util.h"

namespace vlm::models {
namespace {

using test::TempDir;
using State = std::vector<std::pair<std::string, at::Tensor>>;

// An HF task-model folder for the text encoder: DistilBertForMaskedLM or BertForPreTraining layout.
void write_text_folder(const std::string& dir, bool bert, const std::function<void(State&)>& edit = {}) {
  torch::manual_seed(21);
  BertConfig b = BertConfig::tiny();
  TextEncoder src = bert ? TextEncoder(b) : TextEncoder(DistilBertConfig::tiny());
  test::randomize(*src, 22);
  State state = test::state_of(*src, bert ? "bert." : "distilbert.");
  state.emplace_back(bert ? "cls.predictions.bias" : "vocab_projector.bias", torch::zeros({100}));
  if (edit) edit(state);
  test::write_hf_folder(dir, bert ? b.to_json() : DistilBertConfig::tiny().to_json(), state);
}

QFormer tiny_qformer(bool bert, uint64_t seed = 23) {
  QFormerConfig cfg = QFormerConfig::tiny();
  cfg.text_model_type = bert ? "bert" : "distilbert";
  torch::manual_seed(seed);
  QFormer q(cfg);
  test::randomize(*q, seed + 1);
  q->eval();
  return q;
}

class QFormerLayouts : public ::testing::TestWithParam<bool> {};

TEST_P(QFormerLayouts, InitialisesFromTextEncoderFolder) {
  TempDir dir;
  const bool bert = GetParam();
  write_text_folder(dir.path(), bert);
  torch::manual_seed(24);
  LoadedQFormer q = init_qformer_from_text_encoder(QFormerConfig::tiny(), dir.path());
  EXPECT_EQ(q.config.text_model_type, bert ? "bert" : "distilbert");
  // New weights: query tokens, cross-attention in layer 0 only (freq 2, 2 layers), projections, ITM head.
  const std::string L0 = bert ? "encoder.layer.0." : "transformer.layer.0.";
  const std::string L1 = bert ? "encoder.layer.1." : "transformer.layer.1.";
  const auto& kept = q.report.kept_init;
  auto kept_has = [&](const std::string& n) { return std::find(kept.begin(), kept.end(), n) != kept.end(); };
  EXPECT_TRUE(kept_has("query_tokens"));
  EXPECT_TRUE(kept_has(L0 + (bert ? "crossattention.self.key.weight" : "crossattention.k_lin.weight")));
  EXPECT_TRUE(kept_has("itm_head.weight"));
  const auto params = q.model->named_parameters();
  EXPECT_EQ(params.find(L1 + (bert ? "crossattention.self.key.weight" : "crossattention.k_lin.weight")), nullptr);
  EXPECT_EQ(params[L0 + (bert ? "crossattention.self.key.weight" : "crossattention.k_lin.weight")].sizes(),
            (std::vector<int64_t>{32, 24}));  // keys from Dv = 24 vision features
  // The query FFN was filled from the text FFN of the checkpoint.
  const std::string up = bert ? "intermediate" : "ffn", up_q = bert ? "intermediate_query" : "ffn_query";
  const std::string w = bert ? ".dense.weight" : ".lin1.weight";
  EXPECT_TRUE(torch::equal(params[L1 + up_q + w], params[L1 + up + w]));
  EXPECT_EQ(q.report.filled_from.size(), static_cast<size_t>(2 * (bert ? 6 : 6)));  // 2 layers x (up, down, norm) x (w, b)
  // Text mode is exactly the text encoder.
  LoadedTextEncoder text = load_text_encoder(dir.path());
  q.model->eval();
  const auto ids = torch::randint(1, 100, {2, 6});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(q.model->forward_text(ids), text.model->forward(ids)));
}

TEST_P(QFormerLayouts, InitErrorsNameTheTensor) {
  const bool bert = GetParam();
  const std::string p = bert ? "bert." : "distilbert.";
  const std::string n = bert ? "encoder.layer.1.output.dense.weight" : "transformer.layer.1.ffn.lin2.weight";
  auto expect_error = [&](const std::function<void(State&)>& edit, const std::string& needle) {
    TempDir dir;
    write_text_folder(dir.path(), bert, edit);
    try {
      init_qformer_from_text_encoder(QFormerConfig::tiny(), dir.path());
      ADD_FAILURE() << "expected a FileError mentioning " << needle;
    } catch (const FileError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  // Without the text FFN both it and the query FFN filled from it are missing.
  expect_error([&](State& s) { std::erase_if(s, [&](auto& kv) { return kv.first == p + n; }); }, "missing: [" + p + "]" + n);
  expect_error([&](State& s) { s.emplace_back(p + "extra.weight", torch::zeros({2})); }, "unexpected: " + p + "extra.weight [2]");
  expect_error([&](State& s) {
                 for (auto& kv : s)
                   if (kv.first == p + n) kv.second = torch::zeros({32, 65});
               },
               "shape mismatch: " + p + n + ": model expects [32, 64], file has [32, 65]");
}

TEST_P(QFormerLayouts, ModeShapesAndDependencies) {
  QFormer q = tiny_qformer(GetParam());
  torch::NoGradGuard no_grad;
  const auto img = torch::randn({2, 5, 24}), img2 = torch::randn({2, 5, 24});
  const auto ids = torch::randint(1, 100, {2, 6});
  auto ids_late = ids.clone();
  ids_late.select(1, 4).fill_(7);  // tokens 4.. changed
  ids_late.select(1, 5).fill_(9);

  const auto image = q->forward_image(img);
  EXPECT_EQ(image.sizes(), (std::vector<int64_t>{2, 4, 32}));
  EXPECT_EQ(q->forward_text(ids).sizes(), (std::vector<int64_t>{2, 6, 32}));

  // Causal: queries see only queries, so they equal image mode; text token t sees queries and tokens <= t.
  const auto causal = q->forward_causal(img, ids), causal_late = q->forward_causal(img, ids_late);
  EXPECT_EQ(causal.text.sizes(), (std::vector<int64_t>{2, 6, 32}));
  EXPECT_TRUE(test::all_close(causal.query, image, test::kFp32Close));
  EXPECT_TRUE(test::all_close(causal_late.text.slice(1, 0, 4), causal.text.slice(1, 0, 4), test::kFp32Close));
  EXPECT_FALSE(torch::allclose(causal_late.text.slice(1, 4), causal.text.slice(1, 4)));
  EXPECT_FALSE(torch::allclose(q->forward_causal(img2, ids).text, causal.text));  // text attends to the queries

  // Multimodal: queries and text see each other; text differs from text-only mode.
  const auto mm = q->forward_multimodal(img, ids), mm_late = q->forward_multimodal(img, ids_late);
  EXPECT_EQ(mm.query.sizes(), (std::vector<int64_t>{2, 4, 32}));
  EXPECT_EQ(mm.text.sizes(), (std::vector<int64_t>{2, 6, 32}));
  EXPECT_FALSE(torch::allclose(mm_late.query, mm.query));                        // queries depend on text
  EXPECT_FALSE(torch::allclose(mm_late.text.slice(1, 0, 4), mm.text.slice(1, 0, 4)));  // bidirectional
  EXPECT_FALSE(torch::allclose(q->forward_multimodal(img2, ids).text, mm.text));
  EXPECT_FALSE(torch::allclose(mm.text, q->forward_text(ids)));
  // Image mode depends on the image.
  EXPECT_FALSE(torch::allclose(q->forward_image(img2), image));
  EXPECT_EQ(q->itm_logits(img, ids).sizes(), (std::vector<int64_t>{2, 2}));
}

TEST_P(QFormerLayouts, PaddedBatchEqualsOneByOne) {
  QFormer q = tiny_qformer(GetParam());
  torch::NoGradGuard no_grad;
  const auto img = torch::randn({2, 5, 24});
  const auto a = torch::randint(1, 100, {1, 6}), b = torch::randint(1, 100, {1, 3});
  const auto ids = torch::cat({a, torch::cat({b, torch::zeros({1, 3}, torch::kLong)}, 1)}, 0);  // (2, 6)
  auto mask = torch::ones({2, 6}, torch::kLong);
  mask[1].slice(0, 3).fill_(0);
  for (const bool causal : {false, true}) {
    auto run = [&](const at::Tensor& v, const at::Tensor& t, const at::Tensor& m) {
      return causal ? q->forward_causal(v, t, m) : q->forward_multimodal(v, t, m);
    };
    const auto batched = run(img, ids, mask);
    const auto one = run(img.slice(0, 0, 1), a, {}), two = run(img.slice(0, 1, 2), b, {});
    EXPECT_TRUE(test::all_close(batched.query[0], one.query[0], test::kFp32Close)) << causal;
    EXPECT_TRUE(test::all_close(batched.query[1], two.query[0], test::kFp32Close)) << causal;
    EXPECT_TRUE(test::all_close(batched.text[0], one.text[0], test::kFp32Close)) << causal;
    EXPECT_TRUE(test::all_close(batched.text[1].slice(0, 0, 3), two.text[0], test::kFp32Close)) << causal;
  }
  const auto te = q->text_embed(ids, mask);
  EXPECT_TRUE(test::all_close(te[1], q->text_embed(b)[0], test::kFp32Close));
}

TEST_P(QFormerLayouts, GradientsMatchCentralDifferences) {
  QFormer q = tiny_qformer(GetParam(), 31);
  q->to(torch::kDouble);
  const auto img = torch::randn({2, 5, 24}, torch::kDouble);
  const auto ids = torch::randint(1, 100, {2, 4});
  auto mask = torch::ones({2, 4}, torch::kLong);
  mask[1][3] = 0;
  const auto probe = torch::randn({2, 4, 32}, torch::kDouble);
  // One scalar touching every parameter: similarity (projections), ITM (head, multimodal), causal text.
  test::check_gradients(*q, [&] {
    const auto sim = q->similarity(q->image_embeds(img), q->text_embed(ids, mask));
    return sim.sum() + q->itm_logits(img, ids, mask).pow(2).sum() + (q->forward_causal(img, ids, mask).text * probe).sum();
  }, /*per_param=*/1);
}

TEST_P(QFormerLayouts, SaveLoadRoundTripIsStrict) {
  TempDir dir;
  QFormer q = tiny_qformer(GetParam());
  save_qformer(q, dir.path() + "/qf");
  LoadedQFormer back = load_qformer(dir.path() + "/qf");
  EXPECT_TRUE(back.report.kept_init.empty());
  const auto img = torch::randn({2, 5, 24});
  const auto ids = torch::randint(1, 100, {2, 6});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(back.model->image_embeds(img), q->image_embeds(img)));
  EXPECT_TRUE(torch::equal(back.model->forward_causal(img, ids).text, q->forward_causal(img, ids).text));
  // Our own export must be complete: a missing cross-attention tensor is an error, not a re-init.
  auto store = io::TensorStore::open(dir.path() + "/qf");
  State state;
  for (const auto& n : store.names())
    if (n.find("crossattention") == std::string::npos || n.find("weight") == std::string::npos)
      state.emplace_back(n, store.get(n).clone());
  io::save_tensors(dir.path() + "/qf/model.safetensors", state);
  EXPECT_THROW(load_qformer(dir.path() + "/qf"), FileError);
}

TEST_P(QFormerLayouts, Bf16AutocastCloseToFp32) {
  QFormer q = tiny_qformer(GetParam());
  torch::NoGradGuard no_grad;
  const auto img = torch::randn({2, 5, 24});
  const auto ids = torch::randint(1, 100, {2, 6});
  auto mask = torch::ones({2, 6}, torch::kLong);
  mask[1].slice(0, 3).fill_(0);
  const auto ref = q->forward_causal(img, ids, mask);
  QFormerOutput low;
  {
    compat::AutocastGuard autocast(c10::DeviceType::CPU, /*enabled=*/true, at::kBFloat16);
    low = q->forward_causal(img, ids, mask);
  }
  EXPECT_TRUE(test::nmse_below(low.query, ref.query, test::kBf16Nmse));
  EXPECT_TRUE(test::nmse_below(low.text[0], ref.text[0], test::kBf16Nmse));
}

INSTANTIATE_TEST_SUITE_P(Layouts, QFormerLayouts, ::testing::Values(false, true),
                         [](const auto& info) { return std::string(info.param ? "Bert" : "DistilBert"); });

TEST(QFormer, SimilarityMaxAndMeanByHand) {
  QFormerConfig cfg = QFormerConfig::tiny();
  const auto img = torch::tensor({{{1.0, 0.0}, {0.0, 1.0}}});  // (1, 2, 2)
  const auto txt = torch::tensor({{1.0, 0.0}, {0.6, 0.8}});   // (2, 2)
  EXPECT_TRUE(test::all_close(QFormer(cfg)->similarity(img, txt), torch::tensor({{1.0, 0.8}}), 1e-6));
  cfg.similarity = config::QuerySimilarity::kMean;  // normalize((0.5, 0.5)) = (r, r), r = 1/sqrt(2)
  const double r = 1 / std::sqrt(2.0);
  EXPECT_TRUE(test::all_close(QFormer(cfg)->similarity(img, txt), torch::tensor({{r, 1.4 * r}}), 1e-6));
}

TEST(QFormer, EmbeddingsAreNormalisedAndGroupsNamed) {
  QFormer q = tiny_qformer(false);
  torch::NoGradGuard no_grad;
  const auto ie = q->image_embeds(torch::randn({3, 5, 24}));
  EXPECT_EQ(ie.sizes(), (std::vector<int64_t>{3, 4, 16}));
  EXPECT_TRUE(test::all_close(ie.norm(2, -1), torch::ones({3, 4}), 1e-5));
  const auto te = q->text_embed(torch::randint(1, 100, {3, 5}));
  EXPECT_TRUE(test::all_close(te.norm(2, -1), torch::ones({3}), 1e-5));
  EXPECT_TRUE(is_qformer_cross_or_query("query_tokens"));
  EXPECT_TRUE(is_qformer_cross_or_query("transformer.layer.0.crossattention.q_lin.weight"));
  EXPECT_TRUE(is_qformer_cross_or_query("transformer.layer.0.ca_layer_norm.bias"));
  EXPECT_FALSE(is_qformer_cross_or_query("transformer.layer.0.attention.q_lin.weight"));
}

TEST(QFormer, SharedFfnWhenQueryFfnIsOff) {
  QFormerConfig cfg = QFormerConfig::tiny();
  cfg.query_ffn = false;
  QFormer q(cfg);
  for (const auto& p : q->named_parameters()) EXPECT_EQ(p.key().find("_query"), std::string::npos) << p.key();
  EXPECT_EQ(q->forward_image(torch::randn({1, 5, 24})).sizes(), (std::vector<int64_t>{1, 4, 32}));
}

TEST(QFormer, ConfigJsonRoundTripAndValidation) {
  TempDir dir;
  QFormerConfig cfg = QFormerConfig::tiny();
  cfg.text_model_type = "bert";
  cfg.similarity = config::QuerySimilarity::kMean;
  models::write_config_json(dir.path() + "/config.json", cfg.to_json());
  const QFormerConfig back = QFormerConfig::from_json(dir.path());
  EXPECT_EQ(back.text_model_type, "bert");
  EXPECT_EQ(back.similarity, config::QuerySimilarity::kMean);
  EXPECT_EQ(back.bert.hidden_size, 32);
  EXPECT_EQ(back.encoder_width, 24);
  QFormerConfig bad = QFormerConfig::tiny();  // a similarity other than max / mean: config_fields_test
  bad.text_model_type = "gpt2";
  EXPECT_THROW(bad.validate(), ConfigError);
  QFormer q(QFormerConfig::tiny());
  EXPECT_THROW(q->forward_image(torch::randn({1, 5, 23})), c10::Error);  // wrong vision width
}

}  // namespace
}  // namespace vlm::models
