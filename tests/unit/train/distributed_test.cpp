// Data parallel on 2 real processes (this binary re-executed as ranks 0 and 1 on 127.0.0.1 with
// a free port, one thread each) against one process holding the whole batch:
//  - broadcast + all_reduce_gradients + AdamW: the same parameters after 3 steps; a gradient
//    missing on every rank stays missing;
//  - the gathered contrastive loss (plain, max-over-queries, and with hard negative twins, some
//    rows without one): the same averaged gradients;
//  - the causal LM loss over 2 micro-batches per rank normalised by the global token count.
#include "train/distributed.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "launch_ranks.h"
#include "test_util.h"
#include "train/losses.h"
#include "train/step_utils.h"

namespace vlm::train {
namespace {

constexpr int kIgn = static_cast<int>(kIgnoreIndex);  // an int, like the other literals in torch::tensor({...})

constexpr int64_t kBatch = 8;
constexpr int kSteps = 3;

// A small model; rank 1 is built from another seed so that broadcast_parameters matters.
torch::nn::Sequential make_model(uint64_t seed) {
  torch::manual_seed(seed);
  return torch::nn::Sequential(torch::nn::Linear(6, 16), torch::nn::Tanh(), torch::nn::Linear(16, 3));
}

// The rows of the fixed batch this rank sees: all of it on one process.
std::pair<at::Tensor, at::Tensor> batch_slice(int rank, int world) {
  torch::manual_seed(123);
  const at::Tensor x = torch::randn({kBatch, 6});
  const at::Tensor y = torch::randint(0, 3, {kBatch}, at::kLong);
  const int64_t local = kBatch / world;
  return {x.slice(0, rank * local, (rank + 1) * local), y.slice(0, rank * local, (rank + 1) * local)};
}

// 3 AdamW steps; returns the flattened parameters.
at::Tensor train_data_parallel(const Distributed& dist, bool reduce = true) {
  auto model = make_model(/*seed=*/7 + static_cast<uint64_t>(dist.rank()));
  const auto params = model->parameters();
  dist.broadcast_parameters(params);
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(1e-2).weight_decay(0.01));
  const auto [x, y] = batch_slice(dist.rank(), dist.world_size());
  for (int step = 0; step < kSteps; ++step) {
    optimizer.zero_grad();
    torch::nn::functional::cross_entropy(model->forward(x), y).backward();  // mean over the local rows
    if (reduce) dist.all_reduce_gradients(params, GradReduction::kMean, /*bucket_bytes=*/256);  // several buckets
    optimizer.step();
  }
  std::vector<at::Tensor> flat;
  for (const auto& p : params) flat.push_back(p.detach().reshape({-1}));
  return torch::cat(flat);  // (num params,)
}

// Gradients of the projection weights under the gathered contrastive loss, averaged over ranks.
at::Tensor contrastive_grads(const Distributed& dist, bool queries, bool twins = false) {
  torch::manual_seed(5);
  torch::nn::Linear image_proj(6, queries ? 4 * 3 : 4), text_proj(5, 4);
  const at::Tensor images = torch::randn({kBatch, 6});
  const at::Tensor texts = torch::randn({kBatch, 5});
  const at::Tensor twin_texts = torch::randn({kBatch, 5});
  const at::Tensor twin_valid = torch::arange(kBatch) % 3 != 0;  // rows 0, 3, 6 have no twin
  const int64_t local = kBatch / dist.world_size();
  const at::Tensor xi = images.slice(0, dist.rank() * local, (dist.rank() + 1) * local);
  const at::Tensor xt = texts.slice(0, dist.rank() * local, (dist.rank() + 1) * local);
  at::Tensor image_embeds = image_proj(xi);                               // (B, E) or (B, Q*E)
  if (queries) image_embeds = image_embeds.view({local, 3, 4});            // (B, Q, E)
  ContrastiveOptions options;
  options.temperature = 0.1;
  if (twins) {
    options.negative_text_embeds = text_proj(twin_texts.slice(0, dist.rank() * local, (dist.rank() + 1) * local));
    options.negative_valid = twin_valid.slice(0, dist.rank() * local, (dist.rank() + 1) * local);
  }
  const ContrastiveOutput out = contrastive_loss(image_embeds, text_proj(xt), options, &dist);
  out.loss.backward();
  std::vector<at::Tensor> params = image_proj->parameters();
  for (const auto& p : text_proj->parameters()) params.push_back(p);
  dist.all_reduce_gradients(params);
  std::vector<at::Tensor> flat;
  for (const auto& p : params) flat.push_back(p.grad().reshape({-1}));
  return torch::cat(flat);  // (num params,)
}

// Causal LM loss normalised by the supervised tokens of the whole batch (2 micro-batches per
// rank, uneven supervision across ranks), gradients summed over ranks.
at::Tensor lm_grads(const Distributed& dist) {
  using torch::indexing::Slice;
  torch::manual_seed(9);
  torch::nn::Linear head(5, 7);
  const at::Tensor hidden = torch::randn({kBatch, 4, 5});
  at::Tensor labels = torch::randint(0, 7, {kBatch, 4}, at::kLong);
  labels.index_put_({Slice(0, 3), Slice(0, 3)}, kIgnoreIndex);  // rank 0's rows supervise fewer tokens
  const int64_t local = kBatch / dist.world_size(), micro = local / 2, first = dist.rank() * local;
  std::vector<at::Tensor> micro_labels, micro_hidden;
  for (int64_t k = 0; k < 2; ++k) {
    micro_labels.push_back(labels.slice(0, first + k * micro, first + (k + 1) * micro));
    micro_hidden.push_back(hidden.slice(0, first + k * micro, first + (k + 1) * micro));
  }
  const at::Tensor tokens = supervised_tokens_in_batch(micro_labels, &dist);
  for (int64_t k = 0; k < 2; ++k) causal_lm_loss(head(micro_hidden[k]), micro_labels[k], tokens).backward();
  const auto params = head->parameters();
  dist.all_reduce_gradients(params, GradReduction::kSum);
  std::vector<at::Tensor> flat;
  for (const auto& p : params) flat.push_back(p.grad().reshape({-1}));
  return torch::cat(flat);  // (num params,)
}

// The child side: runs only when the parent test set VLM_DIST_TEST_DIR.
TEST(DistributedWorker, Run) {
  const char* dir = std::getenv("VLM_DIST_TEST_DIR");
  if (dir == nullptr) GTEST_SKIP() << "runs only as a child of Distributed.TwoRanksMatchOneProcess";
  torch::set_num_threads(1);
  const DistEnv env = dist_env_from_environment();
  ASSERT_EQ(env.world_size, 2);
  Distributed dist(env, /*cuda=*/false, std::chrono::seconds(60));
  ASSERT_TRUE(dist.enabled());
  EXPECT_EQ(dist.backend_name(), "gloo");
  const std::string prefix = std::string(dir) + "/rank" + std::to_string(env.rank);
  torch::save(train_data_parallel(dist), prefix + "_dp.pt");
  torch::save(train_data_parallel(dist, /*reduce=*/false), prefix + "_local.pt");
  torch::save(contrastive_grads(dist, /*queries=*/false), prefix + "_clip.pt");
  torch::save(contrastive_grads(dist, /*queries=*/true), prefix + "_blip2.pt");
  torch::save(contrastive_grads(dist, /*queries=*/true, /*twins=*/true), prefix + "_twins.pt");
  torch::save(lm_grads(dist), prefix + "_lm.pt");
  // A gradient missing on every rank stays missing (AdamW would decay a zero one); one missing on
  // rank 0 only counts as zeros there.
  const at::Tensor unused = torch::ones({2}, torch::requires_grad());
  const at::Tensor half = torch::ones({2}, torch::requires_grad());
  if (env.rank == 1) half.mutable_grad() = torch::full({2}, 4.0f);
  dist.all_reduce_gradients({unused, half});
  EXPECT_FALSE(unused.grad().defined());
  ASSERT_TRUE(half.grad().defined());
  EXPECT_TRUE(torch::equal(half.grad(), torch::full({2}, 2.0f)));
  // Small collectives.
  EXPECT_DOUBLE_EQ(dist.all_reduce_mean(static_cast<double>(env.rank)), 0.5);
  const at::Tensor gathered = dist.all_gather(torch::full({1, 2}, static_cast<float>(env.rank)));
  EXPECT_TRUE(torch::equal(gathered, torch::tensor({{0.0f, 0.0f}, {1.0f, 1.0f}})));
  const at::Tensor labels = torch::tensor({{0, 1, env.rank == 0 ? 2 : kIgn}}, at::kLong);
  EXPECT_EQ(supervised_tokens_in_batch({labels}, &dist).item<int64_t>(), 3);  // 2 + 1
  dist.barrier();
}

TEST(Distributed, TwoRanksMatchOneProcess) {
  if (!data_parallel_available()) GTEST_SKIP() << "this build has no c10d backend (no Gloo headers)";
  test::TempDir dir;
  const auto ranks = test::launch_ranks("/proc/self/exe", {"--gtest_filter=DistributedWorker.Run"}, /*world=*/2,
                                        dir.path() + "/", {"OMP_NUM_THREADS=1", "VLM_DIST_TEST_DIR=" + dir.path()},
                                        std::chrono::seconds(90));
  for (size_t i = 0; i < ranks.size(); ++i) {
    ASSERT_EQ(ranks[i].status, 0) << "rank " << i << " failed; its output:\n" << ranks[i].log;
  }

  const Distributed single(DistEnv{});  // world size 1: every collective is a no-op
  EXPECT_FALSE(single.enabled());
  EXPECT_EQ(single.backend_name(), "none");
  auto load = [&](const std::string& name) {
    at::Tensor t;
    torch::load(t, dir.path() + "/" + name);
    return t;
  };
  // Both ranks hold the same parameters, and they equal one process on the whole batch.
  const at::Tensor reference = train_data_parallel(single);
  const at::Tensor rank0 = load("rank0_dp.pt"), rank1 = load("rank1_dp.pt");
  EXPECT_TRUE(torch::equal(rank0, rank1));
  const double dp_diff = (rank0 - reference).abs().max().item<double>();
  EXPECT_LT(dp_diff, 1e-6) << "max |param diff| after " << kSteps << " AdamW steps";
  std::printf("2 ranks vs 1 process: max |param diff| after %d AdamW steps = %.3g\n", kSteps, dp_diff);
  // Without the gradient all-reduce each rank follows its own half: the check can fail.
  EXPECT_GT((load("rank0_local.pt") - reference).abs().max().item<double>(), 1e-4);

  const at::Tensor lm_expected = lm_grads(single);
  const double lm_diff = (load("rank0_lm.pt") - lm_expected).abs().max().item<double>();
  std::printf("2 ranks vs 1 process: LM loss (global token count, summed grads) max |grad diff| = %.3g\n", lm_diff);
  EXPECT_TRUE(torch::equal(load("rank0_lm.pt"), load("rank1_lm.pt")));
  EXPECT_LT(lm_diff, 1e-6 * std::max(1.0, lm_expected.abs().max().item<double>()));

  for (const std::string name : {"clip", "blip2", "twins"}) {
    const at::Tensor expected = contrastive_grads(single, name != "clip", name == "twins");
    const at::Tensor g0 = load("rank0_" + name + ".pt"), g1 = load("rank1_" + name + ".pt");
    EXPECT_TRUE(torch::equal(g0, g1)) << name;
    const double diff = (g0 - expected).abs().max().item<double>();
    std::printf("2 ranks vs 1 process: %s contrastive max |grad diff| = %.3g (max |grad| %.3g)\n", name.c_str(), diff,
                expected.abs().max().item<double>());
    // fp32: a few ulps of the largest gradient (1 ulp of 5.0 is 4.8e-7).
    EXPECT_LT(diff, 1e-6 * std::max(1.0, expected.abs().max().item<double>())) << name << ": max |grad diff| vs one process, max |grad| "
                          << expected.abs().max().item<double>();
  }
}

TEST(Distributed, EnvironmentParsing) {
  ::setenv("WORLD_SIZE", "2", 1);
  ::setenv("RANK", "1", 1);
  ::setenv("MASTER_PORT", "29999", 1);
  ::unsetenv("LOCAL_RANK");
  DistEnv env = dist_env_from_environment();
  EXPECT_EQ(env.world_size, 2);
  EXPECT_EQ(env.rank, 1);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.master_port, 29999);
  ::setenv("RANK", "2", 1);
  EXPECT_THROW(dist_env_from_environment(), Error);
  ::setenv("RANK", "x", 1);
  EXPECT_THROW(dist_env_from_environment(), Error);
  for (const char* name : {"WORLD_SIZE", "RANK", "MASTER_PORT"}) ::unsetenv(name);
  env = dist_env_from_environment();
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.rank, 0);
}

}  // namespace
}  // namespace vlm::train
