// The stage-1 feature cache (train/feature_cache.h): rows equal the frozen ViT's output on the
// loader's pixels, a second open reuses the cache, a changed dataset, ViT or dtype rebuilds it,
// undecodable images are skipped with the loader's reason, a build killed half-way leaves no
// complete-looking cache, and a folder that is not a cache is never replaced.
#include <gtest/gtest.h>
#include <signal.h>

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "data/loader.h"
#include "test_util.h"
#include "train/batches.h"
#include "inference/builders.h"
#include "train/demo_data.h"
#include "train/feature_cache.h"

namespace fs = std::filesystem;
using vlm::train::FeatureCache;

namespace {

struct Fixture {
  vlm::test::TempDir dir;
  vlm::train::DemoData data;
  vlm::config::RunConfig config;

  Fixture() {
    vlm::train::DemoDataOptions o;
    o.out_dir = dir.path();
    o.image_size = 32;
    o.n_train = 40;
    o.n_eval = 4;
    o.n_heldout = 4;
    data = vlm::train::make_demo_data(o);
    config.run.device = "cpu";
    config.vision.image_size = 32;
    config.vision.patch_size = 8;
    config.vision.hidden_size = 32;
    config.vision.num_hidden_layers = 1;
    config.vision.num_attention_heads = 2;
    config.vision.intermediate_size = 64;
    config.vision.feature_cache = dir.path() + "/cache";
    config.vision.feature_cache_dtype = "fp32";
    config.data.path = data.train_dir;
    config.data.workers = 2;
    config.train.batch_size = 8;
    config.train.precision = vlm::config::Precision::kFp32;
  }
  vlm::models::ViTModel vit(uint64_t seed = 1) const {
    torch::manual_seed(seed);
    return vlm::inference::build_vision(config);
  }
};

fs::file_time_type manifest_time(const Fixture& f) {
  return fs::last_write_time(f.config.vision.feature_cache + "/manifest.json");
}

}  // namespace

TEST(FeatureCache, RowsAreTheFrozenViTsOutputAndASecondOpenReusesThem) {
  Fixture f;
  auto vit = f.vit();
  const auto cache = FeatureCache::open_or_build(f.config, vit, torch::kCPU);
  EXPECT_TRUE(cache->built());
  EXPECT_EQ(cache->rows(), 40);

  // One batch of the loader over every sample, through the ViT, against the cached rows.
  auto options = vlm::train::loader_options(f.config, vlm::train::Split::kAll, 8, 0, 1, 32);
  options.shuffle = false;
  vlm::data::Loader loader(vlm::train::open_configured_dataset(f.config), options);
  const auto batch = loader.next();
  ASSERT_TRUE(batch);
  torch::NoGradGuard no_grad;
  vit->eval();
  const at::Tensor expected = vit->forward(batch->pixel_values);  // (B, 1 + P, D)
  for (int64_t i = 0; i < batch->size(); ++i) {
    const at::Tensor got = cache->row(batch->keys[static_cast<size_t>(i)]);
    ASSERT_EQ(got.sizes(), expected[i].sizes());
    // Built in batches of 64 here, 8 there: only GEMM blocking differs.
    EXPECT_LE((got - expected[i]).abs().max().item<double>(), 1e-6) << batch->keys[static_cast<size_t>(i)];
  }

  const auto before = manifest_time(f);
  auto same_vit = f.vit();
  const auto again = FeatureCache::open_or_build(f.config, same_vit, torch::kCPU);
  EXPECT_FALSE(again->built());
  EXPECT_EQ(manifest_time(f), before);
  EXPECT_TRUE(torch::equal(again->row(batch->keys[0]), cache->row(batch->keys[0])));
}

TEST(FeatureCache, AChangedDatasetViTOrDtypeRebuilds) {
  Fixture f;
  auto vit = f.vit();
  ASSERT_TRUE(FeatureCache::open_or_build(f.config, vit, torch::kCPU)->built());

  f.config.data.max_samples = 30;  // another sample set
  EXPECT_TRUE(FeatureCache::open_or_build(f.config, vit, torch::kCPU)->built());
  EXPECT_FALSE(FeatureCache::open_or_build(f.config, vit, torch::kCPU)->built());

  auto other_weights = f.vit(/*seed=*/2);  // same config, other weights
  EXPECT_TRUE(FeatureCache::open_or_build(f.config, other_weights, torch::kCPU)->built());

  f.config.vision.num_hidden_layers = 2;  // another ViT config
  auto deeper = f.vit();
  EXPECT_TRUE(FeatureCache::open_or_build(f.config, deeper, torch::kCPU)->built());

  f.config.vision.feature_cache_dtype = "bf16";
  const auto bf16 = FeatureCache::open_or_build(f.config, deeper, torch::kCPU);
  EXPECT_TRUE(bf16->built());
  const auto first = vlm::train::open_configured_dataset(f.config)->samples.front().key;
  EXPECT_EQ(bf16->row(first).scalar_type(), at::kBFloat16);
}

TEST(FeatureCache, UndecodableImagesAreSkippedWithTheLoadersReason) {
  Fixture f;
  std::ofstream(f.data.train_dir + "/zz-broken.png") << "not an image at all";
  std::ofstream(f.data.train_dir + "/captions.jsonl", std::ios::app)
      << R"({"image": "zz-broken.png", "caption": "a broken image", "split": "train"})" << "\n";
  auto vit = f.vit();
  const auto cache = FeatureCache::open_or_build(f.config, vit, torch::kCPU);
  EXPECT_EQ(cache->rows(), 40);
  EXPECT_EQ(cache->skip_reason("zz-broken.png"), "unsupported_format");
  EXPECT_THROW(cache->row("zz-broken.png"), vlm::Error);

  // A keys-only loader over the cache counts the same skips as one that decodes.
  auto sources = [&](const FeatureCache* features) {
    auto source = vlm::train::make_batch_source(f.config, vlm::train::Split::kAll, 41, 0, 1, 32, features);
    return source->next();
  };
  const auto decoded = sources(nullptr);
  const auto cached = sources(cache.get());
  EXPECT_EQ(decoded.keys, cached.keys);
  EXPECT_EQ(decoded.captions, cached.captions);
  EXPECT_FALSE(cached.pixel_values.defined());
  ASSERT_TRUE(cached.features.defined());
  EXPECT_EQ(cached.features.size(0), decoded.size());
}

TEST(FeatureCache, ABuildKilledHalfWayLeavesNoCompleteLookingCache) {
  Fixture f;
  FeatureCache::BuildOptions build;
  build.shard_bytes = 1;  // one row per shard: many shards, so the kill lands mid-build
  build.after_shard = [](int64_t rows) {
    if (rows == 10) ::raise(SIGKILL);
  };
  EXPECT_EXIT(
      {
        auto vit = f.vit();
        FeatureCache::open_or_build(f.config, vit, torch::kCPU, 0, build);
      },
      ::testing::KilledBySignal(SIGKILL), "");
  const std::string dir = f.config.vision.feature_cache;
  EXPECT_FALSE(fs::exists(dir));
  int leftovers = 0;
  for (const auto& e : fs::directory_iterator(f.dir.path()))
    leftovers += e.path().filename().string().starts_with("cache.tmp-") ? 1 : 0;
  EXPECT_EQ(leftovers, 1);

  auto vit = f.vit();
  const auto cache = FeatureCache::open_or_build(f.config, vit, torch::kCPU);
  EXPECT_TRUE(cache->built());
  EXPECT_EQ(cache->rows(), 40);
  for (const auto& e : fs::directory_iterator(f.dir.path()))
    EXPECT_FALSE(e.path().filename().string().starts_with("cache.tmp-")) << "leftover not removed: " << e.path();
}

TEST(FeatureCache, AFolderThatIsNotACacheIsNeverReplaced) {
  Fixture f;
  fs::create_directories(f.config.vision.feature_cache);
  std::ofstream(f.config.vision.feature_cache + "/notes.txt") << "mine";
  auto vit = f.vit();
  EXPECT_THROW(FeatureCache::open_or_build(f.config, vit, torch::kCPU), vlm::Error);
  EXPECT_TRUE(fs::exists(f.config.vision.feature_cache + "/notes.txt"));
}
