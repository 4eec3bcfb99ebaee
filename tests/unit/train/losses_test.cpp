// Losses against hand-derived values, finite differences (double) and invariants
// (ignore_index, accumulation with global normalisation == one batch).
#include "train/losses.h"

#include "core/torch_compat.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>

namespace vlm::train {
namespace {

constexpr int kIgn = static_cast<int>(kIgnoreIndex);  // an int, like the other literals in torch::tensor({...})

double softplus(double x) { return std::log1p(std::exp(x)); }

// Central differences of f at every element of x (double), compared with autograd.
void expect_grad_matches_fd(const std::function<at::Tensor(const at::Tensor&)>& f, at::Tensor x, double tol) {
  x = x.detach().clone().requires_grad_(true);
  f(x).backward();
  const at::Tensor analytic = x.grad().clone();
  const double h = 1e-6;
  auto flat = x.detach().view({-1});  // (numel,) view of x's storage
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double orig = flat[i].item<double>();
    flat[i] = orig + h;
    const double up = f(x.detach()).item<double>();
    flat[i] = orig - h;
    const double down = f(x.detach()).item<double>();
    flat[i] = orig;
    const double fd = (up - down) / (2 * h);
    EXPECT_NEAR(analytic.view({-1})[i].item<double>(), fd, tol) << "element " << i;
  }
}

TEST(ContrastiveLoss, HandDerived2x2) {
  // Unit image (1,0), (0,1); texts (0.6,0.8), (0,1), given unnormalised (x3, x5) to check the
  // L2 normalisation. Similarities [[0.6, 0], [0.8, 1]], temperature 0.5 -> logits x2.
  const at::Tensor image = torch::tensor({{3.0, 0.0}, {0.0, 3.0}});
  const at::Tensor text = torch::tensor({{3.0, 4.0}, {0.0, 5.0}});
  ContrastiveOptions options;
  options.temperature = 0.5;
  const ContrastiveOutput out = contrastive_loss(image, text, options);
  // image->text rows: [1.2, 0] (label 0), [1.6, 2] (label 1); text->image: [1.2, 1.6], [0, 2].
  const double i2t = (softplus(-1.2) + softplus(-0.4)) / 2;
  const double t2i = (softplus(0.4) + softplus(-2.0)) / 2;
  EXPECT_NEAR(out.loss.item<double>(), (i2t + t2i) / 2, 1e-6);
  EXPECT_EQ(out.loss.scalar_type(), at::kFloat);
  EXPECT_TRUE(torch::allclose(out.logits_per_image, torch::tensor({{1.2f, 0.0f}, {1.6f, 2.0f}}), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(out.logits_per_text, torch::tensor({{1.2f, 1.6f}, {0.0f, 2.0f}}), 1e-6, 1e-6));
  EXPECT_EQ(out.label_offset, 0);
}

TEST(ContrastiveLoss, HandDerivedTwinsJoinOnlyTheImageToTextSide) {
  // HandDerived2x2 plus twins: row 0's twin (5, 0) is the unit (1, 0); row 1 has none.
  // Image 0 meets twin 0 at similarity 1, image 1 at 0; the masked twin 1 adds nothing.
  const at::Tensor image = torch::tensor({{3.0, 0.0}, {0.0, 3.0}});
  const at::Tensor text = torch::tensor({{3.0, 4.0}, {0.0, 5.0}});
  ContrastiveOptions options;
  options.temperature = 0.5;
  options.negative_text_embeds = torch::tensor({{5.0, 0.0}, {1.0, 1.0}});
  options.negative_valid = torch::tensor({true, false});
  const ContrastiveOutput out = contrastive_loss(image, text, options);
  // image->text rows: [1.2, 0 | 2] (label 0), [1.6, 2 | 0] (label 1); text->image as before.
  auto ce = [](std::vector<double> row, size_t label) {
    double z = 0;
    for (double v : row) z += std::exp(v);
    return std::log(z) - row[label];
  };
  const double i2t = (ce({1.2, 0.0, 2.0}, 0) + ce({1.6, 2.0, 0.0}, 1)) / 2;
  const double t2i = (softplus(0.4) + softplus(-2.0)) / 2;
  EXPECT_NEAR(out.loss.item<double>(), (i2t + t2i) / 2, 1e-6);
  // The twins stay out of the reported (B, G) logits, which ITM samples from.
  EXPECT_TRUE(torch::allclose(out.logits_per_image, torch::tensor({{1.2f, 0.0f}, {1.6f, 2.0f}}), 1e-6, 1e-6));
  // Without a valid twin the loss is the plain one.
  options.negative_valid = torch::tensor({false, false});
  const double plain = contrastive_loss(image, text, ContrastiveOptions{.temperature = 0.5}).loss.item<double>();
  EXPECT_NEAR(contrastive_loss(image, text, options).loss.item<double>(), plain, 1e-7);
}

TEST(ContrastiveLoss, ReferenceTemperatureAndBf16InputsReduceInFp32) {
  const at::Tensor image = torch::tensor({{1.0, 0.0}, {0.0, 1.0}});
  const at::Tensor text = torch::tensor({{0.6, 0.8}, {0.0, 1.0}});
  const double s = 1 / 0.07;
  const double expected = ((softplus(-0.6 * s) + softplus(-(1.0 - 0.8) * s)) / 2 +
                           (softplus((0.8 - 0.6) * s) + softplus(-1.0 * s)) / 2) / 2;
  EXPECT_NEAR(contrastive_loss(image, text).loss.item<double>(), expected, 1e-5);
  const at::Tensor loss_bf16 = contrastive_loss(image.to(at::kBFloat16), text.to(at::kBFloat16)).loss;
  EXPECT_EQ(loss_bf16.scalar_type(), at::kFloat);
  EXPECT_NEAR(loss_bf16.item<double>(), expected, 2e-2);  // bf16 rounding of 0.6/0.8 only
}

TEST(ContrastiveLoss, Fp32InsideAutocastRegion) {
  torch::manual_seed(8);
  const at::Tensor image = torch::randn({6, 32});
  const at::Tensor text = torch::randn({6, 32});
  ContrastiveOptions options;
  options.temperature = 0.01;  // large logits: bf16 matmuls would move the loss by ~1e-2
  const double fp32 = contrastive_loss(image, text, options).loss.item<double>();
  const at::Tensor queries = torch::randn({6, 3, 32});
  const double fp32_q = contrastive_loss(queries, text, options).loss.item<double>();
  const compat::AutocastGuard autocast(c10::DeviceType::CPU, /*enabled=*/true, at::kBFloat16);
  ASSERT_EQ(at::matmul(image, text.t()).scalar_type(), at::kBFloat16);  // autocast is really on
  {  // ... and would move the loss if the loss did not switch it off:
    namespace F = torch::nn::functional;
    const at::Tensor unit_i = F::normalize(image, F::NormalizeFuncOptions().dim(-1));
    const at::Tensor unit_t = F::normalize(text, F::NormalizeFuncOptions().dim(-1));
    const at::Tensor labels = torch::arange(6, at::kLong);
    const at::Tensor logits = at::matmul(unit_i, unit_t.t()).to(at::kFloat) / 0.01;  // (B, B) from a bf16 matmul
    const double naive = 0.5 * (F::cross_entropy(logits, labels) + F::cross_entropy(logits.t(), labels)).item<double>();
    ASSERT_GT(std::abs(naive - fp32), 1e-4);
  }
  EXPECT_NEAR(contrastive_loss(image, text, options).loss.item<double>(), fp32, 1e-5);
  EXPECT_NEAR(contrastive_loss(queries, text, options).loss.item<double>(), fp32_q, 1e-5);
}

TEST(ContrastiveLoss, MaxOverQueriesMatchesLoopReference) {
  torch::manual_seed(3);
  const int64_t b = 3, q = 4, e = 5;
  const at::Tensor image = torch::randn({b, q, e}, at::kDouble);
  const at::Tensor text = torch::randn({b, e}, at::kDouble);
  ContrastiveOptions options;
  options.temperature = 0.2;
  const ContrastiveOutput out = contrastive_loss(image, text, options);
  // Plain loops: normalise, dot, max over queries, two cross-entropies.
  auto unit = [](at::Tensor v) { return v / v.norm().item<double>(); };
  std::vector<std::vector<double>> sim(b, std::vector<double>(b));
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t t = 0; t < b; ++t) {
      double best = -1e9;
      for (int64_t k = 0; k < q; ++k) best = std::max(best, (unit(image[i][k]) * unit(text[t])).sum().item<double>());
      sim[i][t] = best / 0.2;
    }
  }
  double i2t = 0, t2i = 0;
  for (int64_t r = 0; r < b; ++r) {
    double zr = 0, zc = 0;
    for (int64_t c = 0; c < b; ++c) {
      zr += std::exp(sim[r][c]);
      zc += std::exp(sim[c][r]);
    }
    i2t += std::log(zr) - sim[r][r];
    t2i += std::log(zc) - sim[r][r];
  }
  EXPECT_NEAR(out.loss.item<double>(), (i2t + t2i) / (2 * b), 1e-12);
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t t = 0; t < b; ++t) {
      EXPECT_NEAR(out.logits_per_image[i][t].item<double>(), sim[i][t], 1e-12);
      EXPECT_NEAR(out.logits_per_text[t][i].item<double>(), sim[i][t], 1e-12);
    }
  }
}

TEST(ContrastiveLoss, GradientsMatchFiniteDifferences) {
  torch::manual_seed(0);
  const at::Tensor image = torch::randn({3, 4}, at::kDouble);
  const at::Tensor text = torch::randn({3, 4}, at::kDouble);
  ContrastiveOptions options;
  options.temperature = 0.3;
  expect_grad_matches_fd([&](const at::Tensor& x) { return contrastive_loss(x, text, options).loss; }, image, 1e-7);
  expect_grad_matches_fd([&](const at::Tensor& x) { return contrastive_loss(image, x, options).loss; }, text, 1e-7);
  const at::Tensor queries = torch::randn({3, 2, 4}, at::kDouble);  // max over queries: piecewise smooth
  expect_grad_matches_fd([&](const at::Tensor& x) { return contrastive_loss(x, text, options).loss; }, queries, 1e-7);
  // Through the twins too, one of them masked out.
  options.negative_valid = torch::tensor({true, false, true});
  auto with_twins = [&](const at::Tensor& img, const at::Tensor& twins) {
    ContrastiveOptions o = options;
    o.negative_text_embeds = twins;
    return contrastive_loss(img, text, o).loss;
  };
  const at::Tensor twins = torch::randn({3, 4}, at::kDouble);
  expect_grad_matches_fd([&](const at::Tensor& x) { return with_twins(image, x); }, twins, 1e-7);
  expect_grad_matches_fd([&](const at::Tensor& x) { return with_twins(x, twins); }, image, 1e-7);
  expect_grad_matches_fd([&](const at::Tensor& x) { return with_twins(x, twins); }, queries, 1e-7);
}

TEST(ContrastiveLoss, LearnedScaleGradientAndClamp) {
  torch::manual_seed(1);
  const at::Tensor image = torch::randn({4, 3}, at::kDouble);
  const at::Tensor text = torch::randn({4, 3}, at::kDouble);
  auto loss_at = [&](const at::Tensor& log_scale) {
    ContrastiveOptions options;
    options.logit_scale = learned_logit_scale(log_scale);
    return contrastive_loss(image, text, options).loss;
  };
  const at::Tensor init = torch::full({}, std::log(1 / 0.07), at::kDouble);
  EXPECT_NEAR(learned_logit_scale(init).item<double>(), 1 / 0.07, 1e-9);
  expect_grad_matches_fd(loss_at, init, 1e-7);
  // Above the clamp the scale is 100 and no gradient reaches the parameter.
  const at::Tensor big = torch::full({}, std::log(500.0), at::kDouble).requires_grad_(true);
  EXPECT_NEAR(learned_logit_scale(big).item<double>(), 100.0, 1e-9);
  loss_at(big).backward();
  EXPECT_EQ(big.grad().item<double>(), 0.0);
  const at::Tensor param = torch::full({}, std::log(500.0));
  clamp_log_scale_(param);
  EXPECT_NEAR(param.item<double>(), std::log(100.0), 1e-6);
}

TEST(ContrastiveLoss, RejectsMismatchedShapes) {
  EXPECT_THROW(contrastive_loss(torch::randn({2, 4}), torch::randn({3, 4})), c10::Error);
  EXPECT_THROW(contrastive_loss(torch::randn({2, 4}), torch::randn({2, 5})), c10::Error);
}

TEST(Itm, PlanLayoutAndDeterminism) {
  torch::manual_seed(2);
  const ContrastiveOutput out = contrastive_loss(torch::randn({4, 8}), torch::randn({4, 8}));
  const ItmPlan a = sample_itm_negatives(out, /*seed=*/7);
  const ItmPlan b = sample_itm_negatives(out, /*seed=*/7);
  EXPECT_TRUE(torch::equal(a.image_index, b.image_index));
  EXPECT_TRUE(torch::equal(a.text_index, b.text_index));
  const at::Tensor pos = torch::arange(4, at::kLong);
  EXPECT_TRUE(torch::equal(a.image_index.slice(0, 0, 4), pos));
  EXPECT_TRUE(torch::equal(a.text_index.slice(0, 0, 4), pos));
  EXPECT_TRUE(torch::equal(a.text_index.slice(0, 4, 8), pos));   // (negative image, text i)
  EXPECT_TRUE(torch::equal(a.image_index.slice(0, 8, 12), pos)); // (image i, negative text)
  EXPECT_FALSE(torch::eq(a.image_index.slice(0, 4, 8), pos).any().item<bool>());
  EXPECT_FALSE(torch::eq(a.text_index.slice(0, 8, 12), pos).any().item<bool>());
  EXPECT_TRUE(torch::equal(a.labels, torch::tensor({1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0}, at::kLong)));
}

TEST(Itm, NegativesFollowSoftmaxWithoutDiagonal) {
  // A 3x3 batch given by its logits.
  ContrastiveOutput out;
  out.logits_per_image = torch::tensor({{5.0f, 1.0f, 0.0f}, {0.0f, 5.0f, 2.0f}, {3.0f, 3.0f, 5.0f}});
  out.logits_per_text = out.logits_per_image.t().contiguous();
  // Expected probabilities for image 0's negative text: softmax over the row with the diagonal
  // dropped (plus LAVIS's 1e-4 floor, negligible here): e^1 : e^0.
  const double p1 = std::exp(1.0) / (std::exp(1.0) + 1.0);
  int count1 = 0;
  const int draws = 2000;
  for (int s = 0; s < draws; ++s) {
    const ItmPlan plan = sample_itm_negatives(out, static_cast<uint64_t>(s));
    const int64_t neg_text_for_image0 = plan.text_index[6].item<int64_t>();
    ASSERT_NE(neg_text_for_image0, 0);
    count1 += neg_text_for_image0 == 1 ? 1 : 0;
    for (int64_t i = 0; i < 3; ++i) {
      ASSERT_NE(plan.image_index[3 + i].item<int64_t>(), i);  // text i's negative image is never image i
      ASSERT_NE(plan.text_index[6 + i].item<int64_t>(), i);   // image i's negative text is never text i
    }
  }
  // Binomial(2000, 0.731): sd ~ 0.0099; allow 4 sd.
  EXPECT_NEAR(static_cast<double>(count1) / draws, p1, 0.04);
}

TEST(Itm, DrawsDependOnWhichSamplesMeetNotOnTheirOrderOrRank) {
  // One process holds samples 0..5 (ids 100..105) in order; two ranks hold positions 0, 2, 4 and
  // 1, 3, 5 (the sampler's split) and see the columns gathered as [0, 2, 4, 1, 3, 5]. Every
  // sample must get the same negative (by id) in both layouts.
  torch::manual_seed(4);
  const at::Tensor i2t = torch::randn({6, 6}) * 2, t2i = torch::randn({6, 6}) * 2;
  const at::Tensor ids = torch::arange(100, 106, at::kLong);
  const at::Tensor order = torch::tensor({0, 2, 4, 1, 3, 5}, at::kLong);
  for (uint64_t seed : {1u, 2u, 3u, 99u}) {
    ContrastiveOutput whole;
    whole.logits_per_image = i2t;
    whole.logits_per_text = t2i;
    const ItmPlan one = sample_itm_negatives(whole, seed, ids);
    for (int64_t rank = 0; rank < 2; ++rank) {
      const at::Tensor rows = order.slice(0, 3 * rank, 3 * rank + 3);  // this rank's samples
      ContrastiveOutput shard;
      shard.logits_per_image = i2t.index_select(0, rows).index_select(1, order);
      shard.logits_per_text = t2i.index_select(0, rows).index_select(1, order);
      shard.label_offset = 3 * rank;
      const ItmPlan part = sample_itm_negatives(shard, seed, ids.index_select(0, order));
      for (int64_t i = 0; i < 3; ++i) {
        const int64_t sample = rows[i].item<int64_t>();
        // Negative image for text `sample` (rows B..2B-1), negative text for image `sample` (2B..3B-1).
        EXPECT_EQ(order[part.image_index[3 + i].item<int64_t>()].item<int64_t>(), one.image_index[6 + sample].item<int64_t>())
            << "seed " << seed << " sample " << sample;
        EXPECT_EQ(order[part.text_index[6 + i].item<int64_t>()].item<int64_t>(), one.text_index[12 + sample].item<int64_t>())
            << "seed " << seed << " sample " << sample;
      }
    }
  }
  // The draws do change with the seed (else the check above could not fail).
  ContrastiveOutput whole;
  whole.logits_per_image = torch::zeros({6, 6});
  whole.logits_per_text = torch::zeros({6, 6});
  std::set<int64_t> picks;
  for (uint64_t seed = 0; seed < 50; ++seed) picks.insert(sample_itm_negatives(whole, seed, ids).text_index[12].item<int64_t>());
  EXPECT_EQ(picks.size(), 5u);  // every column but the diagonal
}

TEST(Itm, RankOffsetOnGatheredColumns) {
  // Rank 1 of 2 with B = 2: its rows match gathered columns 2 and 3. Make those columns the
  // most similar so that a wrongly placed diagonal would be picked almost always.
  ContrastiveOutput out;
  out.logits_per_image = torch::tensor({{0.0f, 0.0f, 9.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 9.0f}});
  out.logits_per_text = out.logits_per_image.clone();
  out.label_offset = 2;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const ItmPlan plan = sample_itm_negatives(out, seed);
    ASSERT_TRUE(torch::equal(plan.image_index.slice(0, 0, 2), torch::tensor({2, 3}, at::kLong)));
    ASSERT_TRUE(torch::equal(plan.text_index.slice(0, 0, 2), torch::tensor({2, 3}, at::kLong)));
    for (int64_t i = 0; i < 2; ++i) {
      ASSERT_NE(plan.image_index[2 + i].item<int64_t>(), 2 + i) << "seed " << seed;  // negative image for text i
      ASSERT_NE(plan.text_index[4 + i].item<int64_t>(), 2 + i) << "seed " << seed;   // negative text for image i
      ASSERT_EQ(plan.text_index[2 + i].item<int64_t>(), 2 + i);
      ASSERT_EQ(plan.image_index[4 + i].item<int64_t>(), 2 + i);
    }
  }
}

TEST(Itm, LossHandDerived) {
  const at::Tensor logits = torch::tensor({{0.0f, 0.0f}, {0.0f, std::log(3.0f)}, {std::log(3.0f), 0.0f}});
  const at::Tensor labels = torch::tensor({1, 0, 0}, at::kLong);
  // -log(1/2), -log(1/4), -log(3/4)
  const double expected = (std::log(2.0) + std::log(4.0) + std::log(4.0 / 3.0)) / 3;
  EXPECT_NEAR(itm_loss(logits, labels).item<double>(), expected, 1e-6);
}

TEST(TagLoss, HandDerivedSumOverTagsMeanOverImages) {
  // Image 0: logits (0, log 3) with targets (1, 0): -log(1/2) - log(1 - 3/4) = log 2 + log 4.
  // Image 1: logits (log 3, 0) with targets (1, 1): -log(3/4) - log(1/2).
  const at::Tensor logits = torch::tensor({{0.0f, std::log(3.0f)}, {std::log(3.0f), 0.0f}});
  const at::Tensor targets = torch::tensor({{1.0f, 0.0f}, {1.0f, 1.0f}});
  const double expected = (std::log(2.0) + std::log(4.0) + std::log(4.0 / 3.0) + std::log(2.0)) / 2;
  EXPECT_NEAR(tag_loss(logits, targets).item<double>(), expected, 1e-6);
  EXPECT_EQ(tag_loss(logits.to(at::kBFloat16), targets).scalar_type(), at::kFloat);
  EXPECT_THROW(tag_loss(logits, targets.narrow(1, 0, 1)), c10::Error);
}

TEST(TagLoss, GradientMatchesFiniteDifferences) {
  torch::manual_seed(3);
  const at::Tensor targets = (torch::rand({3, 5}, at::kDouble) > 0.5).to(at::kDouble);
  expect_grad_matches_fd([&](const at::Tensor& x) { return tag_loss(x, targets); }, torch::randn({3, 5}, at::kDouble),
                         1e-6);
}

TEST(CausalLmLoss, HandDerivedShiftAndIgnoreIndex) {
  // B=1, T=3, V=2. Position t predicts label t+1; label 0 is never a target (shift), and the
  // last position's logits have no target.
  const at::Tensor logits = torch::tensor({{{0.0f, 0.0f}, {std::log(3.0f), 0.0f}, {9.0f, -9.0f}}});
  const at::Tensor labels = torch::tensor({{1, 1, 0}}, at::kLong);
  // t=0 -> label 1 with p = 1/2; t=1 -> label 0 with p = 3/4.
  const double nll = std::log(2.0) + std::log(4.0 / 3.0);
  EXPECT_NEAR(causal_lm_loss(logits, labels, 2.0).item<double>(), nll / 2, 1e-6);
  EXPECT_EQ(count_supervised_tokens(labels).item<int64_t>(), 2);
  // Ignoring the second target leaves only the first term; the normaliser is the caller's.
  const at::Tensor ignored = torch::tensor({{1, 1, kIgn}}, at::kLong);
  EXPECT_EQ(count_supervised_tokens(ignored).item<int64_t>(), 1);
  const at::Tensor ignored2 = torch::tensor({{5, 1, kIgn}}, at::kLong);  // label 0 never used
  EXPECT_NEAR(causal_lm_loss(logits, ignored2, 1.0).item<double>(), std::log(2.0), 1e-6);
  EXPECT_NEAR(causal_lm_loss(logits, ignored, 4.0).item<double>(), std::log(2.0) / 4, 1e-6);
  // Nothing supervised: 0, not NaN.
  const at::Tensor none = torch::full({1, 3}, kIgnoreIndex, at::kLong);
  EXPECT_EQ(causal_lm_loss(logits, none, count_supervised_tokens(none)).item<double>(), 0.0);
}

TEST(CausalLmLoss, GradientMatchesFiniteDifferences) {
  torch::manual_seed(4);
  const at::Tensor logits = torch::randn({2, 4, 5}, at::kDouble);
  const at::Tensor labels = torch::tensor({{1, 2, kIgn, 4}, {kIgn, 0, 3, kIgn}}, at::kLong);
  expect_grad_matches_fd([&](const at::Tensor& x) { return causal_lm_loss(x, labels, 7.0); }, logits, 1e-8);
}

TEST(CausalLmLoss, Bf16LogitsReducedInFp32) {
  torch::manual_seed(5);
  const at::Tensor logits = (torch::randn({2, 6, 50}) * 4).to(at::kBFloat16);
  const at::Tensor labels = torch::randint(0, 50, {2, 6}, at::kLong);
  const at::Tensor loss = causal_lm_loss(logits, labels, 10.0);
  EXPECT_EQ(loss.scalar_type(), at::kFloat);
  const at::Tensor reference = causal_lm_loss(logits.to(at::kDouble), labels, 10.0);
  EXPECT_NEAR(loss.item<double>(), reference.item<double>(), 1e-5);
}

TEST(CausalLmLoss, AccumulationWithGlobalCountEqualsOneBatch) {
  torch::manual_seed(6);
  const at::Tensor weight = torch::randn({5, 7}, at::kDouble);  // a linear "LM head" being trained
  const at::Tensor hidden = torch::randn({4, 6, 5}, at::kDouble);
  at::Tensor labels = torch::randint(0, 7, {4, 6}, at::kLong);
  // Uneven supervision: micro-batch 1 has many ignored tokens, micro-batch 2 few.
  labels.index_put_({0, torch::indexing::Slice(0, 5)}, kIgnoreIndex);
  labels.index_put_({1, torch::indexing::Slice(0, 4)}, kIgnoreIndex);
  labels.index_put_({3, 2}, kIgnoreIndex);

  const at::Tensor w_full = weight.clone().requires_grad_(true);
  const at::Tensor n_full = count_supervised_tokens(labels);
  causal_lm_loss(at::matmul(hidden, w_full), labels, n_full).backward();

  const at::Tensor w_acc = weight.clone().requires_grad_(true);
  const at::Tensor mb1 = labels.slice(0, 0, 2), mb2 = labels.slice(0, 2, 4);
  const at::Tensor n_total = count_supervised_tokens(mb1) + count_supervised_tokens(mb2);
  EXPECT_EQ(n_total.item<int64_t>(), n_full.item<int64_t>());
  double loss_sum = 0;
  for (const auto& [h, l] : {std::pair{hidden.slice(0, 0, 2), mb1}, std::pair{hidden.slice(0, 2, 4), mb2}}) {
    const at::Tensor loss = causal_lm_loss(at::matmul(h, w_acc), l, n_total);
    loss_sum += loss.item<double>();
    loss.backward();
  }
  EXPECT_NEAR(loss_sum, causal_lm_loss(at::matmul(hidden, weight), labels, n_full).item<double>(), 1e-12);
  EXPECT_LT((w_acc.grad() - w_full.grad()).abs().max().item<double>(), 1e-12);

  // The per-micro-batch mean (what global normalisation replaces) does differ here.
  const at::Tensor w_mean = weight.clone().requires_grad_(true);
  (causal_lm_loss(at::matmul(hidden.slice(0, 0, 2), w_mean), mb1, count_supervised_tokens(mb1)) / 2).backward();
  (causal_lm_loss(at::matmul(hidden.slice(0, 2, 4), w_mean), mb2, count_supervised_tokens(mb2)) / 2).backward();
  EXPECT_GT((w_mean.grad() - w_full.grad()).abs().max().item<double>(), 1e-3);
}

}  // namespace
}  // namespace vlm::train
