// Stage 1's three losses as the task composes them (Stage1Task::forward_backward), against a
// float64 restatement on a tiny run: ITC from the embeddings, ITM from BLIP-2's plan (positives,
// the negative image for each text, the negative text for each image), ITG from the causal mode's
// next-token cross-entropy. The component tests (losses_test, qformer_test) pin each piece; these
// pin how the task wires them, which a swapped index or the wrong Q-Former mode breaks silently.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <iostream>

#include "config/run_config.h"
#include "core/random.h"
#include "data/split.h"
#include "train/batches.h"
#include "inference/builders.h"
#include "train/losses.h"
#include "train/stage1_task.h"
#include "test_util.h"
#include "tiny_stage1.h"

using namespace vlm;

namespace {

// The task computes in fp32 with another summation order: its losses agreed to 4e-7 here.
constexpr double kLossTolerance = 5e-6;

struct TinyStage1 {
  test::TempDir dir;
  train::DemoData data;
  config::RunConfig config;

  TinyStage1() {
    data = test::make_tiny_demo_data(dir.path());
    const std::string path = dir.path() + "/stage1.yaml";
    std::ofstream(path) << test::tiny_stage1_sections(dir.path(), data, {.vision_train = false})
                        << "train: {stage: stage1, steps: 2, batch_size: 6, lr: 1.0e-3, warmup_steps: 1,"
                           " precision: fp32, itm_weight: 1.0, itg_weight: 1.0}\n";
    config = config::load_run_config(path);
    config.data.workers = 1;
    // Large random weights: the ITM and caption logits then depend strongly on which image meets
    // which text and on what each token sees (at 0.02 a wrong pairing moved the ITM loss by 7e-5).
    config.qformer.initializer_range = 0.5;
  }
};

// -mean over rows of log_softmax(logits)[label], in float64.
double cross_entropy64(const at::Tensor& logits, const at::Tensor& labels) {
  const at::Tensor lp = torch::log_softmax(logits.to(torch::kDouble), -1);  // (N, C)
  return -lp.gather(1, labels.unsqueeze(1)).mean().item<double>();
}

}  // namespace

TEST(Stage1Losses, ItcItmItgEqualFloat64Restatement) {
  TinyStage1 t;
  train::Stage1Task task(t.config, /*dist=*/nullptr);
  const int64_t step = 1;
  const train::StepResult result = task.forward_backward(step, /*grad_accum=*/1);
  ASSERT_TRUE(result.extra.count("loss_itm") && result.extra.count("loss_itg"));

  // The same first batch: the loader's order is a function of the config (run.deterministic).
  auto model = dynamic_cast<models::AlignmentModelImpl*>(&task.module());
  ASSERT_NE(model, nullptr);
  const auto source = train::make_batch_source(t.config, train::Split::kTrain, t.config.train.batch_size, 0, 1,
                                               model->vision->config().image_size);
  const train::ImageTextBatch batch = source->next();
  const int64_t B = batch.size();
  torch::NoGradGuard no_grad;  // the weights are those the step used: no optimizer step ran
  const auto tokenizer = inference::load_qformer_tokenizer(t.config);
  const auto text = inference::tokenize_for_qformer(tokenizer, batch.captions, t.config.qformer.max_text_length);
  const at::Tensor ids = text.input_ids, mask = text.attention_mask;  // (B, T)
  const at::Tensor feats = model->vision_features(batch.pixel_values);  // (B, 1 + P, Dv)
  auto& q = *model->qformer;

  // ITC: the mean-pooled (or max-over-queries) cosine similarities over the temperature.
  const at::Tensor image = q.project_queries(q.forward_image(feats));  // (B, Q, E)
  const at::Tensor txt = q.text_embed(ids, mask);                       // (B, E)
  const double scale = 1.0 / t.config.train.temperature;
  at::Tensor sim64;  // (B, B) image x text
  const at::Tensor txt64 = txt.to(torch::kDouble) / txt.to(torch::kDouble).norm(2, -1, true);
  if (t.config.qformer.similarity == config::QuerySimilarity::kMean) {
    const at::Tensor pooled = image.to(torch::kDouble).mean(1);  // (B, E)
    sim64 = (pooled / pooled.norm(2, -1, true)).matmul(txt64.t());
  } else {
    const at::Tensor img64 = image.to(torch::kDouble) / image.to(torch::kDouble).norm(2, -1, true);
    sim64 = std::get<0>(torch::einsum("iqe,je->ijq", {img64, txt64}).max(-1));
  }
  const at::Tensor diag = torch::arange(B, torch::kLong);
  const double itc = (cross_entropy64(scale * sim64, diag) + cross_entropy64(scale * sim64.t(), diag)) / 2;
  EXPECT_NEAR(result.extra.at("loss_itc").item<double>(), itc, kLossTolerance) << "the batch or the ITC differ";

  // ITM: BLIP-2's plan drawn as the task draws it (its seed and key hashes), then
  // rows 0..B-1 (image i, text i) label 1, B..2B-1 (negative image of text i, text i) label 0,
  // 2B..3B-1 (image i, negative text of image i) label 0; each image row paired with its text row.
  const at::Tensor image_for_loss = t.config.qformer.similarity == config::QuerySimilarity::kMean
                                        ? torch::nn::functional::normalize(
                                              image.mean(1), torch::nn::functional::NormalizeFuncOptions().dim(-1))
                                        : image;
  train::ContrastiveOptions options;
  options.temperature = t.config.train.temperature;
  const train::ContrastiveOutput out = train::contrastive_loss(image_for_loss, txt, options);
  std::vector<int64_t> hashes;
  for (const auto& key : batch.keys) hashes.push_back(static_cast<int64_t>(stable_hash(key, 0)));
  const uint64_t seed = static_cast<uint64_t>(t.config.run.seed) * 1000003ull + static_cast<uint64_t>(step) * 7919ull;
  const train::ItmPlan plan = train::sample_itm_negatives(out, seed, torch::tensor(hashes, torch::kLong));
  std::vector<int64_t> img_rows(plan.image_index.data_ptr<int64_t>(), plan.image_index.data_ptr<int64_t>() + 3 * B);
  std::vector<int64_t> txt_rows(plan.text_index.data_ptr<int64_t>(), plan.text_index.data_ptr<int64_t>() + 3 * B);
  for (int64_t i = 0; i < B; ++i) {
    ASSERT_EQ(img_rows[i], i);
    ASSERT_EQ(txt_rows[i], i);
    ASSERT_EQ(txt_rows[B + i], i);      // text i with ...
    ASSERT_NE(img_rows[B + i], i);      // ... another image
    ASSERT_EQ(img_rows[2 * B + i], i);  // image i with ...
    ASSERT_NE(txt_rows[2 * B + i], i);  // ... another text
  }
  double itm = 0;
  for (int64_t k = 0; k < 3 * B; ++k) {
    // One pair at a time: the ITM head over this image's features and this text alone.
    const at::Tensor logits = q.itm_logits(feats.slice(0, img_rows[k], img_rows[k] + 1),
                                           ids.slice(0, txt_rows[k], txt_rows[k] + 1),
                                           mask.slice(0, txt_rows[k], txt_rows[k] + 1));  // (1, 2)
    itm += cross_entropy64(logits, torch::full({1}, k < B ? 1 : 0, torch::kLong));
  }
  itm /= static_cast<double>(3 * B);
  EXPECT_NEAR(result.extra.at("loss_itm").item<double>(), itm, kLossTolerance)
      << "ITM pairs are not (image_index[k], text_index[k]) as planned";

  // ITG: token t predicts token t + 1 from the queries and tokens <= t (the causal mode); padding
  // is not a target. Summed over every supervised token in float64, divided by their count.
  const at::Tensor logits = model->itg_head->forward(q.forward_causal(feats, ids, mask).text).to(torch::kDouble);
  const at::Tensor logp = torch::log_softmax(logits, -1);  // (B, T, V)
  double nll = 0;
  int64_t tokens = 0;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i + 1 < ids.size(1); ++i) {
      if (mask[b][i + 1].item<int64_t>() == 0) continue;
      nll -= logp[b][i][ids[b][i + 1].item<int64_t>()].item<double>();
      ++tokens;
    }
  }
  ASSERT_GT(tokens, B);
  EXPECT_NEAR(result.extra.at("loss_itg").item<double>(), nll / static_cast<double>(tokens), kLossTolerance)
      << "the caption loss is not the causal mode's next-token loss";
  std::cout << "task vs float64: itc " << result.extra.at("loss_itc").item<double>() - itc << ", itm "
            << result.extra.at("loss_itm").item<double>() - itm << ", itg "
            << result.extra.at("loss_itg").item<double>() - nll / static_cast<double>(tokens) << "\n";
  EXPECT_NEAR(result.loss.item<double>(), itc + itm + nll / static_cast<double>(tokens), 3 * kLossTolerance);
}

// The mode the caption loss uses cannot see its targets: changing a caption's tokens from
// position k on leaves the logits of every position before k as they were; the multimodal mode
// (bidirectional, the break this guards against) fails the same check.
TEST(Stage1Losses, CaptionModeCannotSeeLaterTokens) {
  TinyStage1 t;
  train::Stage1Task task(t.config, /*dist=*/nullptr);
  auto model = dynamic_cast<models::AlignmentModelImpl*>(&task.module());
  ASSERT_NE(model, nullptr);
  torch::NoGradGuard no_grad;
  const auto source = train::make_batch_source(t.config, train::Split::kTrain, t.config.train.batch_size, 0, 1,
                                               model->vision->config().image_size);
  const train::ImageTextBatch batch = source->next();
  const auto tokenizer = inference::load_qformer_tokenizer(t.config);
  const auto text = inference::tokenize_for_qformer(tokenizer, batch.captions, t.config.qformer.max_text_length);
  const at::Tensor feats = model->vision_features(batch.pixel_values);
  const int64_t k = 3;
  ASSERT_GT(text.input_ids.size(1), k + 1);
  at::Tensor changed = text.input_ids.clone();
  changed.slice(1, k).fill_(tokenizer.vocab_size() - 1);
  auto logits = [&](const at::Tensor& ids) {
    return model->itg_head->forward(model->qformer->forward_causal(feats, ids, torch::ones_like(ids)).text);
  };
  const at::Tensor a = logits(text.input_ids), b = logits(changed);  // (B, T, V)
  EXPECT_LE((a.slice(1, 0, k) - b.slice(1, 0, k)).abs().max().item<double>(), 1e-6);
  EXPECT_GT((a.slice(1, k) - b.slice(1, k)).abs().max().item<double>(), 1e-4);  // the change is seen from k on
  const auto multimodal = [&](const at::Tensor& ids) {
    return model->itg_head->forward(model->qformer->forward_multimodal(feats, ids, torch::ones_like(ids)).text);
  };
  // The check can fail: the bidirectional mode's early positions do move.
  EXPECT_GT((multimodal(text.input_ids).slice(1, 0, k) - multimodal(changed).slice(1, 0, k)).abs().max().item<double>(),
            1e-6);
}
