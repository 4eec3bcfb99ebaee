// The from-scratch model builders honour vision.initializer_range and qformer.initializer_range:
// the std of every random weight matrix follows the configured value (the demo's larger one
// lets its tiny ViT and Q-Former attend to something other than the average from the start).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "test_util.h"
#include "tokenizers/tokenizer.h"
#include "inference/builders.h"
#include "train/demo_data.h"

namespace {

// Std of all 2-D weights whose name contains `part` (all when empty), layer norms and
// embeddings excluded (they have their own initialisation).
double weight_std(torch::nn::Module& m, const std::string& part = "") {
  std::vector<at::Tensor> flat;
  for (const auto& p : m.named_parameters()) {
    const std::string& name = p.key();
    if (p.value().dim() != 2 || name.find("norm") != std::string::npos || name.find("embeddings") != std::string::npos)
      continue;
    if (!part.empty() && name.find(part) == std::string::npos) continue;
    flat.push_back(p.value().detach().flatten());
  }
  EXPECT_FALSE(flat.empty()) << "no weight matches '" << part << "'";
  return flat.empty() ? 0.0 : torch::cat(flat).std().item<double>();
}

vlm::config::RunConfig tiny_config() {
  vlm::config::RunConfig c;
  c.train.stage = vlm::config::Stage::kStage1;
  c.vision.image_size = 32;
  c.vision.patch_size = 8;
  c.vision.hidden_size = 64;
  c.vision.num_hidden_layers = 2;
  c.vision.num_attention_heads = 2;
  c.vision.intermediate_size = 128;
  c.qformer.num_query_tokens = 4;
  c.qformer.embed_dim = 32;
  c.qformer.hidden_size = 64;
  c.qformer.num_hidden_layers = 2;
  c.qformer.num_attention_heads = 2;
  c.qformer.intermediate_size = 128;
  return c;
}

TEST(Builders, FromScratchWeightsFollowTheConfiguredInitializerRange) {
  vlm::test::TempDir dir;
  vlm::train::DemoDataOptions o;
  o.out_dir = dir.path();
  o.image_size = 32;
  o.n_train = 8;
  o.n_eval = 2;
  o.n_heldout = 2;
  const auto data = vlm::train::make_demo_data(o);
  const auto tokenizer = vlm::tokenizers::Tokenizer::from_path(data.tokenizer_dir);
  for (const double range : {0.02, 0.2}) {
    auto config = tiny_config();
    config.vision.initializer_range = range;
    config.qformer.initializer_range = range;
    torch::manual_seed(0);
    auto vit = vlm::inference::build_vision(config);
    auto qformer = vlm::inference::build_qformer(config, config.vision.hidden_size, tokenizer);
    // The ViT's normal is truncated at +-2 (absolute, as transformers), which cuts nothing here;
    // thousands of draws per group keep the sample std within 10%.
    for (const double got : {weight_std(*vit), weight_std(*qformer, "crossattention"), weight_std(*qformer, "layer.")}) {
      EXPECT_GT(got, 0.9 * range) << "range " << range;
      EXPECT_LT(got, 1.1 * range) << "range " << range;
    }
  }
}

}  // namespace
