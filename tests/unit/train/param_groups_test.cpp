// Parameter groups by name rules (the reference's stage-1 rule on a module with Q-Former
// names) and optimizer state saved by parameter name: save -> load -> the same next step, and a
// changed model refused.
#include "train/param_groups.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "test_util.h"

namespace vlm::train {
namespace {

struct LayerImpl : torch::nn::Module {
  LayerImpl()
      : attention(register_module("attention", torch::nn::Linear(4, 4))),
        crossattention(register_module("crossattention", torch::nn::Linear(4, 4))),
        LayerNorm(register_module("LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({4})))) {}
  torch::nn::Linear attention, crossattention;
  torch::nn::LayerNorm LayerNorm;  // HF's name
};
TORCH_MODULE(Layer);

// A Q-Former-shaped module: query_tokens, encoder.layer.{0,1}.{attention,crossattention,LayerNorm}.
struct FakeQFormerImpl : torch::nn::Module {
  explicit FakeQFormerImpl(int extra = 0) {
    query_tokens = register_parameter("query_tokens", torch::randn({1, 3, 4}));
    auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
    layer = encoder->register_module("layer", torch::nn::ModuleList());
    for (int i = 0; i < 2 + extra; ++i) layer->push_back(Layer());
    head = register_module("head", torch::nn::Linear(4, 2));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = x + query_tokens.squeeze(0).mean(0);  // (N, 4)
    for (const auto& m : *layer) {
      auto* l = m->as<LayerImpl>();
      h = l->LayerNorm(h + torch::tanh(l->attention(h)) + torch::tanh(l->crossattention(h)));
    }
    return head(h);  // (N, 2)
  }
  at::Tensor query_tokens;
  torch::nn::ModuleList layer{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(FakeQFormer);

ParamGroupOptions stage1_rules() {
  ParamGroupOptions o;
  o.lr = 1e-4;
  o.weight_decay = 0.05;
  o.rules = {{"cross", "crossattention|query_tokens", 1.0, std::nullopt, std::nullopt},
             {"rest", ".*", 0.1, std::nullopt, std::nullopt}};
  return o;
}

const ParamGroup& find(const std::vector<ParamGroup>& groups, const std::string& label) {
  for (const auto& g : groups) {
    if (g.label == label) return g;
  }
  throw std::runtime_error("no group " + label);
}

TEST(ParamGroups, ReferenceStage1Rule) {
  FakeQFormer model;
  model->layer[1]->as<LayerImpl>()->attention->bias.requires_grad_(false);  // frozen: in no group
  const auto groups = build_param_groups(*model, stage1_rules());
  ASSERT_EQ(groups.size(), 4u);
  const ParamGroup& cross = find(groups, "cross");
  EXPECT_DOUBLE_EQ(cross.lr, 1e-4);
  EXPECT_DOUBLE_EQ(cross.weight_decay, 0.05);
  EXPECT_EQ(cross.names, (std::vector<std::string>{"query_tokens", "encoder.layer.0.crossattention.weight",
                                                   "encoder.layer.1.crossattention.weight"}));
  const ParamGroup& cross_nd = find(groups, "cross.no_decay");
  EXPECT_DOUBLE_EQ(cross_nd.lr, 1e-4);
  EXPECT_DOUBLE_EQ(cross_nd.weight_decay, 0.0);
  EXPECT_EQ(cross_nd.names, (std::vector<std::string>{"encoder.layer.0.crossattention.bias",
                                                      "encoder.layer.1.crossattention.bias"}));
  const ParamGroup& rest = find(groups, "rest");
  EXPECT_DOUBLE_EQ(rest.lr, 1e-5);
  EXPECT_EQ(rest.names, (std::vector<std::string>{"encoder.layer.0.attention.weight",
                                                  "encoder.layer.1.attention.weight", "head.weight"}));
  const ParamGroup& rest_nd = find(groups, "rest.no_decay");
  EXPECT_DOUBLE_EQ(rest_nd.weight_decay, 0.0);
  EXPECT_EQ(rest_nd.names.size(), 6u);  // attention.bias (layer 0), 2x LayerNorm weight+bias, head.bias
  // Every trainable parameter in exactly one group.
  size_t total = 0, trainable = 0;
  for (const auto& g : groups) total += g.params.size();
  for (const auto& p : model->parameters()) trainable += p.requires_grad() ? 1 : 0;
  EXPECT_EQ(total, trainable);
}

TEST(ParamGroups, AbsoluteLrAndDecayOverrides) {
  FakeQFormer model;
  ParamGroupOptions o;
  o.lr = 1e-4;
  o.no_decay_bias_and_norm = false;
  o.rules = {{"head", "^head\\.", 1.0, 5e-4, 0.0}, {"rest", ".*", 1.0, std::nullopt, 0.01}};
  const auto groups = build_param_groups(*model, o);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].label, "head");
  EXPECT_DOUBLE_EQ(groups[0].lr, 5e-4);
  EXPECT_EQ(groups[0].names, (std::vector<std::string>{"head.weight", "head.bias"}));
  EXPECT_DOUBLE_EQ(groups[1].weight_decay, 0.01);
  const auto optimizer = make_optimizer(groups, {});
  ASSERT_EQ(optimizer->param_groups().size(), 2u);
  const auto& opts = static_cast<const torch::optim::AdamWOptions&>(optimizer->param_groups()[0].options());
  EXPECT_DOUBLE_EQ(opts.lr(), 5e-4);
  EXPECT_DOUBLE_EQ(opts.weight_decay(), 0.0);
}

TEST(ParamGroups, UnmatchedParameterAndBadPatternAreErrors) {
  FakeQFormer model;
  ParamGroupOptions o;
  o.rules = {{"cross", "crossattention", 1.0, std::nullopt, std::nullopt}};
  try {
    build_param_groups(*model, o);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("query_tokens"), std::string::npos) << e.what();
  }
  o.rules = {{"bad", "(unclosed", 1.0, std::nullopt, std::nullopt}};
  EXPECT_THROW(build_param_groups(*model, o), ConfigError);
}

// Trains `steps` AdamW steps on a fixed batch.
void train(FakeQFormer& model, torch::optim::Optimizer& optimizer, int steps) {
  torch::manual_seed(11);
  const at::Tensor x = torch::randn({6, 4});
  const at::Tensor y = torch::randint(0, 2, {6}, at::kLong);
  for (int i = 0; i < steps; ++i) {
    optimizer.zero_grad();
    torch::nn::functional::cross_entropy(model->forward(x), y).backward();
    optimizer.step();
  }
}

std::vector<at::Tensor> snapshot(FakeQFormer& model) {
  std::vector<at::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

void copy_weights(FakeQFormer& from, FakeQFormer& to) {
  torch::NoGradGuard no_grad;
  auto src = from->parameters();
  auto dst = to->parameters();
  for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
}

TEST(OptimizerState, SaveLoadGivesIdenticalNextStep) {
  for (const OptimizerKind kind : {OptimizerKind::kAdamW, OptimizerKind::kAdam}) {
    test::TempDir dir;
    const std::string path = dir.path() + "/optimizer.pt";
    torch::manual_seed(1);
    FakeQFormer original;
    auto groups = build_param_groups(*original, stage1_rules());
    auto optimizer = make_optimizer(groups, {kind});
    train(original, *optimizer, 3);
    save_optimizer_state(*optimizer, groups, path);

    FakeQFormer resumed;
    copy_weights(original, resumed);
    auto resumed_groups = build_param_groups(*resumed, stage1_rules());
    auto resumed_optimizer = make_optimizer(resumed_groups, {kind});
    load_optimizer_state(*resumed_optimizer, resumed_groups, path);

    train(original, *optimizer, 2);
    train(resumed, *resumed_optimizer, 2);
    const auto a = snapshot(original), b = snapshot(resumed);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;

    // Without the state the next steps differ (the test can fail).
    FakeQFormer fresh;
    copy_weights(resumed, fresh);
    FakeQFormer fresh_ref;
    copy_weights(resumed, fresh_ref);
    auto fg = build_param_groups(*fresh, stage1_rules());
    auto fo = make_optimizer(fg, {kind});
    train(fresh, *fo, 1);
    train(resumed, *resumed_optimizer, 1);
    EXPECT_FALSE(torch::equal(snapshot(fresh)[0], snapshot(resumed)[0]));
  }
}

TEST(OptimizerState, ChangedModelIsRefused) {
  test::TempDir dir;
  const std::string path = dir.path() + "/optimizer.pt";
  FakeQFormer model;
  auto groups = build_param_groups(*model, stage1_rules());
  auto optimizer = make_optimizer(groups, {});
  train(model, *optimizer, 1);
  save_optimizer_state(*optimizer, groups, path);

  FakeQFormer bigger(/*extra=*/1);  // one more layer: names differ
  auto bigger_groups = build_param_groups(*bigger, stage1_rules());
  auto bigger_optimizer = make_optimizer(bigger_groups, {});
  try {
    load_optimizer_state(*bigger_optimizer, bigger_groups, path);
    FAIL() << "expected FileError";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.layer.2"), std::string::npos) << e.what();
  }
  // Same names, other rules: the group layout differs.
  ParamGroupOptions one_group;
  one_group.rules = {{"all", ".*", 1.0, std::nullopt, std::nullopt}};
  auto other_groups = build_param_groups(*model, one_group);
  auto other_optimizer = make_optimizer(other_groups, {});
  EXPECT_THROW(load_optimizer_state(*other_optimizer, other_groups, path), FileError);
  // AdamW state into Adam.
  auto adam = make_optimizer(groups, {OptimizerKind::kAdam});
  EXPECT_THROW(load_optimizer_state(*adam, groups, path), FileError);
  // Not an optimizer file at all.
  test::TempDir other;
  EXPECT_THROW(load_optimizer_state(*optimizer, groups, other.path() + "/missing.pt"), FileError);
}

TEST(OptimizerState, ShapeChangeIsRefused) {
  test::TempDir dir;
  const std::string path = dir.path() + "/optimizer.pt";
  FakeQFormer model;
  auto groups = build_param_groups(*model, stage1_rules());
  auto optimizer = make_optimizer(groups, {});
  train(model, *optimizer, 1);
  save_optimizer_state(*optimizer, groups, path);
  FakeQFormer changed;
  changed->query_tokens.set_data(torch::randn({1, 5, 4}));  // more queries, same names
  auto changed_groups = build_param_groups(*changed, stage1_rules());
  auto changed_optimizer = make_optimizer(changed_groups, {});
  try {
    load_optimizer_state(*changed_optimizer, changed_groups, path);
    FAIL() << "expected FileError";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("query_tokens/exp_avg"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vlm::train
