#include "train/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/atomic_file.h"
#include "test_util.h"

namespace fs = std::filesystem;
using vlm::train::Checkpointer;

namespace {
void write_weights(const std::string& dir, const std::string& text) { std::ofstream(dir + "/weights.bin") << text; }
}  // namespace

TEST(Checkpointer, SavesVerifiesAndPointsLatest) {
  vlm::test::TempDir run;
  Checkpointer ck(run.path(), /*save_every=*/10, /*keep=*/1);
  EXPECT_FALSE(ck.latest().has_value());
  EXPECT_TRUE(ck.due(10, false));
  EXPECT_FALSE(ck.due(11, false));
  EXPECT_TRUE(ck.due(11, true));
  ck.save(10, [](const std::string& d) { write_weights(d, "ten"); });
  ASSERT_TRUE(ck.latest().has_value());
  EXPECT_EQ(vlm::io::read_file(*ck.latest() + "/weights.bin"), "ten");
  EXPECT_EQ(fs::path(*ck.latest()).filename(), "step-0000010");
}

TEST(Checkpointer, CrashBetweenWriteAndRenameLeavesPreviousLoadable) {
  vlm::test::TempDir run;
  Checkpointer ck(run.path(), 10, 1);
  ck.save(10, [](const std::string& d) { write_weights(d, "ten"); });
  EXPECT_THROW(ck.save(20,
                       [](const std::string& d) {
                         write_weights(d, "twenty");
                         throw std::runtime_error("killed mid-write");
                       }),
               std::runtime_error);
  ASSERT_TRUE(ck.latest().has_value());
  EXPECT_EQ(vlm::io::read_file(*ck.latest() + "/weights.bin"), "ten");
  EXPECT_FALSE(fs::exists(ck.dir() + "/step-0000020"));
}

TEST(Checkpointer, TruncatedFileIsDetected) {
  vlm::test::TempDir run;
  Checkpointer ck(run.path(), 10, 1);
  const std::string dir = ck.save(10, [](const std::string& d) { write_weights(d, "0123456789"); });
  fs::resize_file(dir + "/weights.bin", 4);
  try {
    Checkpointer::verify(dir);
    FAIL();
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": incomplete checkpoint: weights.bin has 4 bytes, the manifest says 10");
  }
  fs::remove(dir + "/manifest.json");
  EXPECT_THROW(Checkpointer::verify(dir), vlm::FileError);
}

TEST(Checkpointer, PrunesButKeepsBestAndLatest) {
  vlm::test::TempDir run;
  Checkpointer ck(run.path(), 10, /*keep=*/1);
  ck.save(10, [](const std::string& d) { write_weights(d, "a"); }, /*is_best=*/true);
  for (int step = 20; step <= 50; step += 10) ck.save(step, [](const std::string& d) { write_weights(d, "b"); });
  EXPECT_TRUE(fs::exists(ck.dir() + "/step-0000010"));  // best
  EXPECT_TRUE(fs::exists(ck.dir() + "/step-0000050"));  // latest
  EXPECT_TRUE(fs::exists(ck.dir() + "/step-0000040"));  // kept
  EXPECT_FALSE(fs::exists(ck.dir() + "/step-0000030"));
  EXPECT_FALSE(fs::exists(ck.dir() + "/step-0000020"));
  EXPECT_EQ(fs::path(*ck.best()).filename(), "step-0000010");
  ck.mark_best(50);
  EXPECT_EQ(fs::path(*ck.best()).filename(), "step-0000050");
}

// A run continued from an older step (a resume that passed over a damaged newest checkpoint, or a
// user resuming step-20 on purpose): pruning removes a damaged step newer than latest (it would
// otherwise count as the newest kept step while good older ones went), keeps complete newer ones
// without counting them, and applies `keep` to the older ones.
TEST(Checkpointer, PruneRemovesADamagedStepNewerThanLatestAndKeepsCompleteOnes) {
  vlm::test::TempDir run;
  {
    Checkpointer first(run.path(), 10, /*keep=*/10);
    for (int step = 10; step <= 50; step += 10) first.save(step, [](const std::string& d) { write_weights(d, "0123"); });
  }
  fs::resize_file(run.path() + "/checkpoints/step-0000050/weights.bin", 2);  // damaged
  Checkpointer ck(run.path(), 10, /*keep=*/1);
  ck.save(21, [](const std::string& d) { write_weights(d, "0123"); });
  EXPECT_FALSE(fs::exists(ck.dir() + "/step-0000050"));  // damaged: removed
  EXPECT_TRUE(fs::exists(ck.dir() + "/step-0000040"));   // complete: kept
  EXPECT_TRUE(fs::exists(ck.dir() + "/step-0000030"));
  EXPECT_TRUE(fs::exists(ck.dir() + "/step-0000021"));   // latest
  EXPECT_TRUE(fs::exists(ck.dir() + "/step-0000020"));   // keep = 1 among the older ones
  EXPECT_FALSE(fs::exists(ck.dir() + "/step-0000010"));
  ck.save(22, [](const std::string& d) { write_weights(d, "0123"); });
  EXPECT_TRUE(fs::exists(ck.dir() + "/step-0000021"));
  EXPECT_FALSE(fs::exists(ck.dir() + "/step-0000020"));
  EXPECT_TRUE(fs::exists(ck.dir() + "/step-0000040"));
}

TEST(Checkpointer, ResolveAcceptsRunDirCheckpointDirAndRefusesOthers) {
  vlm::test::TempDir run;
  Checkpointer ck(run.path(), 10, 1);
  const std::string dir = ck.save(10, [](const std::string& d) { write_weights(d, "a"); });
  EXPECT_EQ(Checkpointer::resolve(run.path()), fs::canonical(dir).string());
  EXPECT_EQ(Checkpointer::resolve(dir), dir);
  EXPECT_THROW(Checkpointer::resolve(run.path() + "/nope"), vlm::FileError);
  fs::create_directories(run.path() + "/empty");
  EXPECT_THROW(Checkpointer::resolve(run.path() + "/empty"), vlm::FileError);
}
