// The stage-2 sequence layout against hand-built expectations: [left pads][image][prompt]
// [target][right pads], labels on target tokens only.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/vlm.h"

namespace vlm::models {
namespace {

TEST(VlmLayout, MovePromptPaddingFirstByHand) {
  // Q = 2 image tokens, prompt of 3 with 2 left pads in row 0, none in row 1, then 1 target.
  // Elements are numbered by their input position: [i0 i1 | p0 p1 p2 | t0] = 0..5.
  const auto x = torch::arange(6, torch::kLong).repeat({2, 1});                   // (2, 6)
  const auto prompt_mask = torch::tensor({{0, 0, 1}, {1, 1, 1}}, torch::kLong);  // (2, 3)
  const auto got = move_prompt_padding_first(x, prompt_mask, 2);
  const auto want = torch::tensor({{2, 3, 0, 1, 4, 5}, {0, 1, 2, 3, 4, 5}}, torch::kLong);
  EXPECT_TRUE(torch::equal(got, want)) << got;
  // 3-D inputs move whole rows of features the same way.
  const auto feats = x.unsqueeze(-1).repeat({1, 1, 4}).to(torch::kFloat);  // (2, 6, 4)
  const auto moved = move_prompt_padding_first(feats, prompt_mask, 2);
  EXPECT_TRUE(torch::equal(moved.select(2, 3).to(torch::kLong), want));
}

TEST(VlmLayout, LabelsOnlyOnTargetTokens) {
  torch::manual_seed(0);
  auto vit = ViTModel(ViTConfig::tiny());
  auto qcfg = QFormerConfig::tiny();
  qcfg.encoder_width = vit->config().hidden_size;
  auto qformer = QFormer(qcfg);
  auto lm = DecoderLM(DecoderConfig::tiny_llama());
  AdapterConfig acfg;
  acfg.input_size = qformer->config().hidden_size();
  acfg.hidden_size = lm->config().hidden_size;
  acfg.output_size = lm->config().hidden_size;
  VisionLanguageModel model(vit, qformer, Adapter(acfg), lm);
  model->eval();  // no dropout: the image tokens are compared between two calls
  const int64_t Q = qcfg.num_query_tokens;
  VlmBatch b{torch::randn({2, 3, 32, 32}), torch::tensor({{0, 5, 6}, {7, 8, 9}}, torch::kLong),
             torch::tensor({{0, 1, 1}, {1, 1, 1}}, torch::kLong), torch::tensor({{11, 12}, {13, 0}}, torch::kLong),
             torch::tensor({{1, 1}, {1, 0}}, torch::kLong)};
  torch::NoGradGuard no_grad;
  const VlmSequence seq = model->build(b);
  ASSERT_EQ(seq.labels.sizes(), (std::vector<int64_t>{2, Q + 5}));
  // Row 0: [pad][Q image][5 6][11 12]; row 1: [Q image][7 8 9][13][right pad].
  std::vector<int64_t> labels0(static_cast<size_t>(Q + 3), -100), labels1(static_cast<size_t>(Q + 3), -100);
  labels0.insert(labels0.end(), {11, 12});
  labels1.insert(labels1.end(), {13, -100});
  EXPECT_TRUE(torch::equal(seq.labels[0], torch::tensor(labels0, torch::kLong))) << seq.labels[0];
  EXPECT_TRUE(torch::equal(seq.labels[1], torch::tensor(labels1, torch::kLong))) << seq.labels[1];
  EXPECT_EQ(seq.mask[0][0].item<int64_t>(), 0);
  EXPECT_EQ(seq.mask[0].sum().item<int64_t>(), Q + 4);
  EXPECT_EQ(seq.mask[1][Q + 4].item<int64_t>(), 0);
  EXPECT_EQ(seq.mask[1].sum().item<int64_t>(), Q + 4);
  // The image tokens of row 0 sit after its pad, equal to those computed alone.
  const auto image = model->image_tokens(b.pixel_values);
  EXPECT_TRUE(torch::allclose(seq.embeds[0].narrow(0, 1, Q), image[0].to(seq.embeds.scalar_type())));
}

}  // namespace
}  // namespace vlm::models
