// Continuous batching's invariant: sequences of different lengths decoded together (left-padded
// shared cache, rows joining and leaving between steps) give the logits each gets decoded alone
// with the plain KV cache, to fp32 rounding (max |d| <= 1e-5), and the same greedy tokens.
#include <gtest/gtest.h>
#include <iostream>
#include <torch/torch.h>

#include "serve/batched_decode.h"

namespace vlm::serve {
namespace {

// Greedy continuation of one prompt alone (B = 1): the logits of every step.
std::vector<at::Tensor> alone(models::DecoderLMImpl& lm, const std::vector<int64_t>& prompt, int steps) {
  models::KVCache cache = lm.new_cache();
  at::Tensor ids = torch::tensor(prompt, torch::kLong).unsqueeze(0);  // (1, P)
  std::vector<at::Tensor> out;
  at::Tensor logits = lm.forward({.input_ids = ids, .cache = &cache, .logits_to_keep = 1}).logits.select(1, -1);
  for (int s = 0; s < steps; ++s) {
    out.push_back(logits);
    const at::Tensor next = logits.argmax(-1).unsqueeze(1);  // (1, 1)
    logits = lm.forward({.input_ids = next, .cache = &cache, .logits_to_keep = 1}).logits.select(1, -1);
  }
  return out;
}

TEST(BatchedCache, RowsJoiningAndLeavingDecodeAsIfAlone) {
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  models::DecoderLM lm(models::DecoderConfig::tiny_llama());
  lm->eval();
  const std::vector<std::vector<int64_t>> prompts = {{5, 6, 7}, {9, 10, 11, 12, 13, 14, 15}, {20}};
  const std::vector<int> joins = {0, 0, 2};  // the third row joins at step 2
  const std::vector<int> steps = {4, 6, 5};  // the first leaves after 4 tokens
  std::vector<std::vector<at::Tensor>> reference;
  for (size_t i = 0; i < prompts.size(); ++i) reference.push_back(alone(*lm, prompts[i], steps[i]));

  BatchedCache batch;
  std::vector<int> rows;              // sequence of each row
  std::vector<int64_t> last;          // next token to feed per row
  std::vector<int> done(prompts.size(), 0);
  double worst = 0;
  for (int step = 0; step < 8; ++step) {
    for (size_t i = 0; i < prompts.size(); ++i) {
      if (joins[i] != step) continue;
      models::KVCache cache = lm->new_cache();
      const at::Tensor logits = lm->forward({.input_ids = torch::tensor(prompts[i], torch::kLong).unsqueeze(0),
                                             .cache = &cache, .logits_to_keep = 1})
                                    .logits.select(1, -1);  // (1, V)
      worst = std::max(worst, (logits - reference[i][0]).abs().max().item<double>());
      batch.add_row(cache);
      rows.push_back(static_cast<int>(i));
      last.push_back(logits.argmax(-1).item<int64_t>());
      done[i] = 1;
    }
    if (rows.empty()) continue;
    const at::Tensor logits = batch.step(*lm, torch::tensor(last, torch::kLong));  // (B, V)
    std::vector<int64_t> keep;
    std::vector<int> kept_rows;
    std::vector<int64_t> kept_last;
    for (size_t r = 0; r < rows.size(); ++r) {
      const int i = rows[r];
      ASSERT_LT(done[i], static_cast<int>(reference[i].size()));
      const double d = (logits[static_cast<int64_t>(r)] - reference[i][done[i]][0]).abs().max().item<double>();
      worst = std::max(worst, d);
      EXPECT_LE(d, 1e-5) << "sequence " << i << " token " << done[i];
      ++done[i];
      if (done[i] < steps[i]) {
        keep.push_back(static_cast<int64_t>(r));
        kept_rows.push_back(i);
        kept_last.push_back(logits[static_cast<int64_t>(r)].argmax().item<int64_t>());
      }
    }
    batch.keep_rows(keep);
    rows = kept_rows;
    last = kept_last;
  }
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(done[i], steps[i]) << "sequence " << i;
  EXPECT_EQ(batch.rows(), 0);
  std::cout << "batched vs alone: max |d| = " << worst << "\n";
}

}  // namespace
}  // namespace vlm::serve
