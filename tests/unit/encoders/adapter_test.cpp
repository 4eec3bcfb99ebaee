// The MLP adapter (models/adapter.h): a hand-computed forward, gradients, save -> load with and
// without LLaVA's `multi_modal_projector.` prefix.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "encoder_test_util.h"
#include "models/adapter.h"
#include "test_util.h"

namespace vlm::models {
namespace {

AdapterConfig tiny() {
  AdapterConfig c;
  c.input_size = 3;
  c.hidden_size = 4;
  c.output_size = 5;
  return c;
}

TEST(Adapter, HandComputedForward) {
  AdapterConfig c;
  c.input_size = c.hidden_size = c.output_size = 1;
  Adapter a(c);
  {
    torch::NoGradGuard no_grad;
    auto p = a->named_parameters();
    p["linear_1.weight"].fill_(2.0);
    p["linear_1.bias"].fill_(-1.0);
    p["linear_2.weight"].fill_(3.0);
    p["linear_2.bias"].fill_(0.5);
  }
  // x = 1: u = 2 - 1 = 1, gelu(1) = 0.5 (1 + erf(1/sqrt 2)), y = 3 gelu(1) + 0.5.
  const double g = 0.5 * (1 + std::erf(1 / std::sqrt(2.0)));
  torch::NoGradGuard no_grad;
  EXPECT_NEAR(a->forward(torch::ones({1, 1, 1})).item<double>(), 3 * g + 0.5, 1e-6);
}

TEST(Adapter, ShapesAndGradients) {
  torch::manual_seed(41);
  Adapter a(tiny());
  EXPECT_EQ(a->forward(torch::randn({2, 7, 3})).sizes(), (std::vector<int64_t>{2, 7, 5}));
  EXPECT_THROW(a->forward(torch::randn({2, 7, 4})), c10::Error);
  a->to(torch::kDouble);
  const auto x = torch::randn({2, 7, 3}, torch::kDouble), probe = torch::randn({2, 7, 5}, torch::kDouble);
  test::check_gradients(*a, [&] { return (a->forward(x) * probe).sum(); }, /*per_param=*/3);
}

TEST(Adapter, SaveLoadAndLlavaPrefix) {
  test::TempDir dir;
  torch::manual_seed(42);
  Adapter a(tiny());
  save_adapter(a, dir.path() + "/adapter");
  const auto x = torch::randn({1, 2, 3});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(load_adapter(dir.path() + "/adapter").model->forward(x), a->forward(x)));
  test::write_hf_folder(dir.path(), tiny().to_json(), test::state_of(*a, "multi_modal_projector."));
  EXPECT_TRUE(torch::equal(load_adapter(dir.path()).model->forward(x), a->forward(x)));
  auto c = tiny();
  c.hidden_size = 6;  // config disagrees with the weights
  models::write_config_json(dir.path() + "/config.json", c.to_json());
  EXPECT_THROW(load_adapter(dir.path()), FileError);
  c.hidden_act = "nope";
  EXPECT_THROW(c.validate(), ConfigError);
}

}  // namespace
}  // namespace vlm::models
