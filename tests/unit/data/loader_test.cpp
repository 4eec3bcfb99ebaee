// The loader: same order for (seed, epoch) whatever the worker count, resume == continue, ranks
// partition an epoch, bad images skipped and counted without breaking determinism, evaluation
// passes, the transform hook, and the pixels equal the preprocessor's.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "data/loader.h"
#include "data/preprocess.h"
#include "data_test_util.h"
#include "test_util.h"

namespace vlm::data {
namespace {

using test::TempDir;

// n good PNGs in a folder with captions.jsonl; `bad` maps index -> kind of damage.
std::shared_ptr<Dataset> make_dataset(const std::string& dir, int n, const std::map<int, std::string>& bad = {}) {
  std::string table;
  for (int i = 0; i < n; ++i) {
    const std::string name = str("img", 100 + i, ".png");
    auto bytes = test::tagged_png(i);
    const auto it = bad.find(i);
    if (it != bad.end() && it->second == "corrupt") bytes.assign(200, 0x42);
    if (it != bad.end() && it->second == "empty") bytes.clear();
    if (it != bad.end() && it->second == "truncated") bytes.resize(bytes.size() / 2);
    if (it == bad.end() || it->second != "missing") test::write_bytes(dir + "/" + name, bytes);
    table += str("{\"image\": \"", name, "\", \"captions\": [\"first ", i, "\", \"second ", i, "\"]}\n");
  }
  test::write_text(dir + "/captions.jsonl", table);
  DataSpec spec;
  spec.path = dir;
  return open_dataset(spec);
}

LoaderOptions options(int workers, int64_t batch = 4) {
  LoaderOptions o;
  o.batch_size = batch;
  o.workers = workers;
  o.prefetch_batches = 2;
  o.seed = 11;
  o.image_size = 8;
  return o;
}

std::vector<std::string> keys_of(Loader& loader, int batches) {
  std::vector<std::string> keys;
  for (int i = 0; i < batches; ++i) {
    auto b = loader.next();
    if (!b) break;
    keys.insert(keys.end(), b->keys.begin(), b->keys.end());
  }
  return keys;
}

TEST(Loader, SameOrderWhateverTheWorkerCount) {
  TempDir dir;
  const auto ds = make_dataset(dir.path(), 22);
  Loader l0(ds, options(0)), l1(ds, options(1)), l3(ds, options(3));
  const auto k0 = keys_of(l0, 12), k1 = keys_of(l1, 12), k3 = keys_of(l3, 12);
  EXPECT_EQ(k0.size(), 48u);  // 5 batches per epoch (22 / 4, last 2 dropped) for 2+ epochs
  EXPECT_EQ(k0, k1);
  EXPECT_EQ(k0, k3);
  // Each epoch is a permutation (no repeats inside 20 samples), and epochs differ.
  const std::vector<std::string> e0(k0.begin(), k0.begin() + 20), e1(k0.begin() + 20, k0.begin() + 40);
  EXPECT_EQ(std::set<std::string>(e0.begin(), e0.end()).size(), 20u);
  EXPECT_NE(e0, e1);
  // Another seed, another order.
  auto other = options(2);
  other.seed = 12;
  Loader l_other(ds, other);
  EXPECT_NE(keys_of(l_other, 5), std::vector<std::string>(k0.begin(), k0.begin() + 20));
}

TEST(Loader, BatchesCarryPixelsCaptionsAndPosition) {
  TempDir dir;
  const auto ds = make_dataset(dir.path(), 6);
  auto o = options(2, 3);
  o.shuffle = false;
  Loader loader(ds, o);
  const auto batch = loader.next();
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->pixel_values.sizes(), (std::vector<int64_t>{3, 3, 8, 8}));
  EXPECT_EQ(batch->keys[0], "img100.png");
  EXPECT_TRUE(batch->captions[0] == "first 0" || batch->captions[0] == "second 0") << batch->captions[0];
  EXPECT_EQ(batch->epoch, 0);
  EXPECT_EQ(batch->position_after, 3);
  PreprocessConfig cfg;
  cfg.height = cfg.width = 8;
  std::vector<float> expected(3 * 8 * 8);
  preprocess_into(decode_image(test::tagged_png(1), "x"), cfg, expected.data());
  const at::Tensor want = torch::from_blob(expected.data(), {3, 8, 8}, torch::kFloat32);
  EXPECT_TRUE(torch::equal(batch->pixel_values[1], want));
  // Over many epochs both captions of a sample get picked.
  std::set<std::string> seen;
  for (int i = 0; i < 40; ++i) {
    auto b = loader.next();
    for (size_t j = 0; j < b->keys.size(); ++j)
      if (b->keys[j] == "img100.png") seen.insert(b->captions[j]);
  }
  EXPECT_EQ(seen.size(), 2u);
}

TEST(Loader, ResumeAtAPositionEqualsContinuing) {
  TempDir dir;
  const auto ds = make_dataset(dir.path(), 17, {{3, "corrupt"}});
  Loader a(ds, options(2));
  keys_of(a, 6);  // into the second epoch
  const LoaderState state = a.state();
  EXPECT_EQ(state.epoch, 1);
  const auto rest = keys_of(a, 7);
  Loader b(ds, options(3));
  b.restore(state);
  EXPECT_EQ(keys_of(b, 7), rest);
  EXPECT_EQ(b.state().epoch, a.state().epoch);
  EXPECT_EQ(b.state().position, a.state().position);
  EXPECT_THROW(b.restore({0, 999}), Error);
}

TEST(Loader, RanksPartitionAnEpoch) {
  TempDir dir;
  const auto ds = make_dataset(dir.path(), 11);
  std::vector<std::string> all;
  for (int rank = 0; rank < 2; ++rank) {
    auto o = options(1, 5);
    o.rank = rank;
    o.world_size = 2;
    Loader l(ds, o);
    EXPECT_EQ(l.samples_per_epoch(), 5);  // 11 / 2: the tail sample is dropped
    const auto keys = keys_of(l, 1);
    EXPECT_EQ(keys.size(), 5u);
    all.insert(all.end(), keys.begin(), keys.end());
  }
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 10u);
  // The two ranks together take the first 10 of the single-process permutation.
  auto single = options(0, 11);
  single.drop_last = false;
  Loader one(ds, single);
  auto full = keys_of(one, 1);
  full.resize(10);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()), std::set<std::string>(full.begin(), full.end()));
  // Padding instead: every sample is seen, the ranks get ceil(11 / 2) each.
  auto padded = options(0, 6);
  padded.world_size = 2;
  padded.rank = 1;
  padded.pad_ranks = true;
  EXPECT_EQ(Loader(ds, padded).samples_per_epoch(), 6);
}

// What data-parallel equivalence rests on (tests/e2e/training/data_parallel_test.cpp): step k
// of two ranks with batch B reads exactly the samples of a single process's batch k of 2B,
// rank 0 the even positions and rank 1 the odd ones (DistributedSampler's order), in every
// epoch, the dropped tails included.
TEST(Loader, RankBatchesTogetherAreTheSingleProcessBatch) {
  TempDir dir;
  const auto ds = make_dataset(dir.path(), 23);  // one process: 3 batches of 6 per epoch, 5 dropped
  Loader one(ds, options(0, 6));
  std::vector<std::unique_ptr<Loader>> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    auto o = options(1, 3);
    o.rank = rank;
    o.world_size = 2;
    ranks.push_back(std::make_unique<Loader>(ds, o));
  }
  EXPECT_EQ(ranks[0]->batches_per_epoch(), one.batches_per_epoch());
  for (int step = 0; step < 8; ++step) {  // into the third epoch
    const auto whole = one.next();
    ASSERT_TRUE(whole);
    for (int rank = 0; rank < 2; ++rank) {
      const auto part = ranks[static_cast<size_t>(rank)]->next();
      ASSERT_TRUE(part);
      ASSERT_EQ(part->size(), 3);
      EXPECT_EQ(part->epoch, whole->epoch);
      for (int64_t j = 0; j < 3; ++j) {
        EXPECT_EQ(part->keys[static_cast<size_t>(j)], whole->keys[static_cast<size_t>(2 * j + rank)])
            << "step " << step << ", rank " << rank;
        EXPECT_EQ(part->captions[static_cast<size_t>(j)], whole->captions[static_cast<size_t>(2 * j + rank)]);
      }
    }
  }
}

TEST(Loader, BadImagesAreSkippedAndCountedDeterministically) {
  TempDir dir;
  const auto ds = make_dataset(dir.path(), 20,
                               {{2, "corrupt"}, {5, "empty"}, {7, "missing"}, {11, "truncated"}, {12, "corrupt"}});
  std::vector<std::string> reference;
  for (int workers : {0, 3}) {
    auto o = options(workers, 3);
    o.shuffle = false;
    o.repeat = false;
    o.drop_last = false;
    Loader l(ds, o);
    std::vector<std::string> keys;
    int64_t batches = 0;
    while (auto b = l.next()) {
      ++batches;
      keys.insert(keys.end(), b->keys.begin(), b->keys.end());
      if (batches < 5) {
        EXPECT_EQ(b->size(), 3);  // filled from the next samples
      }
    }
    EXPECT_EQ(keys.size(), 15u);
    EXPECT_EQ(batches, 5);
    const auto stats = l.stats();
    EXPECT_EQ(stats.ok, 15);
    EXPECT_EQ(stats.to_json(), R"({"ok":15,"skipped":{"empty":1,"missing":1,"truncated":1,"unsupported_format":2}})");
    if (reference.empty()) reference = keys;
    EXPECT_EQ(keys, reference);
    EXPECT_EQ(std::count(keys.begin(), keys.end(), "img102.png"), 0);
  }
  const SkipStats scanned = scan_dataset(*ds, 2);
  EXPECT_EQ(scanned.ok, 15);
  EXPECT_EQ(scanned.total_skipped(), 5);
  EXPECT_EQ(scanned.to_json(), R"({"ok":15,"skipped":{"empty":1,"missing":1,"truncated":1,"unsupported_format":2}})");
}

TEST(Loader, EvaluationPassSeesEverySampleOnce) {
  TempDir dir;
  const auto ds = make_dataset(dir.path(), 10);
  auto o = options(2, 4);
  o.shuffle = false;
  o.repeat = false;
  o.drop_last = false;
  Loader l(ds, o, {1, 3, 5, 7, 9});
  EXPECT_EQ(l.batches_per_epoch(), 2);
  const auto first = l.next();
  const auto second = l.next();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->size(), 4);
  EXPECT_EQ(second->size(), 1);
  EXPECT_EQ(second->keys[0], "img109.png");
  EXPECT_FALSE(l.next());
  l.restore({0, 0});  // rewind for the next evaluation
  EXPECT_EQ(l.next()->keys[0], "img101.png");
}

TEST(Loader, TransformResultsTravelWithTheSamples) {
  TempDir dir;
  const auto ds = make_dataset(dir.path(), 8);
  auto o = options(2, 4);
  o.transform = [](const SampleRef& s, const std::string& caption, int64_t epoch) -> std::any {
    return static_cast<int64_t>(caption.size() + s.key.size() + epoch);
  };
  Loader l(ds, o);
  const auto b = l.next();
  ASSERT_EQ(b->extras.size(), 4u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(std::any_cast<int64_t>(b->extras[i]), static_cast<int64_t>(b->captions[i].size() + b->keys[i].size()));
  // An exception in the transform is not the data's fault: it reaches the caller.
  o.transform = [](const SampleRef&, const std::string&, int64_t) -> std::any { throw std::runtime_error("boom"); };
  Loader bad(ds, o);
  EXPECT_THROW(bad.next(), std::runtime_error);
}

TEST(Loader, AllBadDataIsAnErrorNotAHang) {
  TempDir dir;
  const auto ds = make_dataset(dir.path(), 3, {{0, "corrupt"}, {1, "missing"}, {2, "empty"}});
  Loader l(ds, options(1, 2));
  EXPECT_THROW(l.next(), Error);
  LoaderOptions wrong = options(1);
  wrong.rank = 2;
  wrong.world_size = 2;
  EXPECT_THROW({ Loader l2(ds, wrong); }, ConfigError);
}

}  // namespace
}  // namespace vlm::data
