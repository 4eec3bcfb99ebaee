// The training loop on a tiny linear-regression task: steps, accumulation, the non-finite
// guard, checkpoints and exact resume, independent of any real model or dataset.
#include "train/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "eval/run_files.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace vlm;

namespace {

// y = x . w_true; batches are a pure function of the step, so resume needs no data state.
class RegressionTask final : public train::Task {
 public:
  explicit RegressionTask(std::set<int64_t> nan_steps = {}) : nan_steps_(std::move(nan_steps)) {
    model_ = std::make_shared<torch::nn::LinearImpl>(torch::nn::LinearOptions(4, 1).bias(false));
    torch::NoGradGuard g;
    model_->weight.zero_();
  }
  torch::nn::Module& module() override { return *model_; }
  std::vector<train::ParamRule> param_rules() const override { return {{.label = "all", .pattern = ".*"}}; }
  train::StepResult forward_backward(int64_t step, int64_t grad_accum) override {
    train::StepResult r;
    at::Tensor total = torch::zeros({});
    for (int64_t m = 0; m < grad_accum; ++m) {
      auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(step * 100 + m));
      const auto x = torch::randn({8, 4}, gen);
      const auto y = x.matmul(torch::tensor({1.0f, -2.0f, 0.5f, 3.0f}));
      at::Tensor loss = (model_->forward(x).squeeze(1) - y).pow(2).mean() / static_cast<double>(grad_accum);
      if (nan_steps_.count(step)) loss = loss * std::nan("");
      loss.backward();
      total += loss.detach();
      r.samples += 8;
    }
    r.loss = total;
    return r;
  }
  std::map<std::string, double> evaluate(int64_t) override {
    return {{"val/loss", (model_->weight - torch::tensor({{1.0f, -2.0f, 0.5f, 3.0f}})).pow(2).sum().item<double>()}};
  }
  nlohmann::json state() const override { return {{"calls", 1}}; }
  void restore(const nlohmann::json& s) override { restored_ = s.at("calls").get<int>(); }
  void export_to(const std::string& dir) override { torch::save(model_, dir + "/model.pt"); }
  int64_t train_samples() const override { return 64; }

  std::shared_ptr<torch::nn::LinearImpl> model_;
  std::set<int64_t> nan_steps_;
  int restored_ = 0;
};

config::RunConfig small_config(int64_t steps) {
  config::RunConfig c;
  c.data.path = "unused";
  c.train.stage = config::Stage::kLm;
  c.train.steps = steps;
  c.train.lr_head = 0.05;
  c.train.schedule = config::ScheduleKind::kConstant;
  c.train.warmup_steps = 0;
  c.train.weight_decay = 0;
  c.schedule.log_every = 1;
  c.schedule.eval_every = 5;
  c.schedule.save_every = 5;
  c.train.max_bad_steps = 3;
  return c;
}

std::vector<double> losses(const std::string& run_dir) {
  std::vector<double> out;
  for (const auto& row : eval::run_files::read_metrics(run_dir + "/metrics.jsonl")) {
    if (row.values.count("train/loss")) out.push_back(row.values.at("train/loss"));
  }
  return out;
}

}  // namespace

TEST(Trainer, LearnsAndExports) {
  vlm::test::TempDir dir;
  RegressionTask task;
  train::Trainer trainer(small_config(60), dir.path(), task, nullptr);
  const auto result = trainer.fit();
  EXPECT_EQ(result.steps, 60);
  EXPECT_LT(result.best_val_loss, 0.05);
  EXPECT_TRUE(fs::exists(dir.path() + "/export/model.pt"));
  EXPECT_EQ(losses(dir.path()).size(), 60u);
  EXPECT_TRUE(fs::exists(dir.path() + "/checkpoints/best"));
}

TEST(Trainer, ResumeContinuesExactly) {
  vlm::test::TempDir full_dir, split_dir;
  {
    RegressionTask task;
    train::Trainer(small_config(20), full_dir.path(), task, nullptr).fit();
  }
  {
    RegressionTask task;
    train::Trainer(small_config(10), split_dir.path(), task, nullptr).fit();  // stops at 10 with a checkpoint
  }
  RegressionTask resumed;
  train::Trainer(small_config(20), split_dir.path(), resumed, nullptr).fit();
  EXPECT_EQ(resumed.restored_, 1);
  const auto a = losses(full_dir.path()), b = losses(split_dir.path());
  ASSERT_EQ(a.size(), 20u);
  ASSERT_EQ(b.size(), 20u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(a[i], b[i]) << "step " << i + 1;
}

TEST(Trainer, NonFiniteStepsAreSkippedAndCounted) {
  vlm::test::TempDir dir;
  RegressionTask task({3, 7});
  train::Trainer trainer(small_config(10), dir.path(), task, nullptr);
  trainer.fit();
  const auto rows = eval::run_files::read_metrics(dir.path() + "/metrics.jsonl");
  double skipped = 0;
  for (const auto& r : rows) {
    if (r.values.count("train/skipped_steps")) skipped = r.values.at("train/skipped_steps");
  }
  EXPECT_EQ(skipped, 2);
  EXPECT_TRUE(torch::isfinite(task.model_->weight).all().item<bool>());
}

TEST(Trainer, TooManyNonFiniteStepsStopWithLastGoodCheckpoint) {
  vlm::test::TempDir dir;
  RegressionTask task({6, 7, 8, 9});
  train::Trainer trainer(small_config(10), dir.path(), task, nullptr);
  try {
    trainer.fit();
    FAIL() << "expected the run to stop";
  } catch (const vlm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite"), std::string::npos) << e.what();
  }
  train::Checkpointer ck(dir.path(), 5, 2);
  ASSERT_TRUE(ck.latest().has_value());
  EXPECT_EQ(fs::path(*ck.latest()).filename(), "step-0000005");
}
