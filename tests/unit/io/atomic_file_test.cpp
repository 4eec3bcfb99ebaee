#include "io/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "test_util.h"

namespace fs = std::filesystem;

TEST(AtomicFile, WritesAndReplacesFile) {
  vlm::test::TempDir dir;
  const std::string path = dir.path() + "/a.txt";
  vlm::io::write_file_atomic(path, "first");
  EXPECT_EQ(vlm::io::read_file(path), "first");
  vlm::io::write_file_atomic(path, "second");
  EXPECT_EQ(vlm::io::read_file(path), "second");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}), 1);
}

TEST(AtomicFile, FailedDirectoryFillLeavesPreviousIntact) {
  vlm::test::TempDir dir;
  const std::string target = dir.path() + "/ckpt";
  vlm::io::write_dir_atomic(target, [](const std::string& tmp) { std::ofstream(tmp + "/w") << "old"; });
  EXPECT_THROW(vlm::io::write_dir_atomic(target,
                                         [](const std::string& tmp) {
                                           std::ofstream(tmp + "/w") << "new";
                                           throw std::runtime_error("crash between write and rename");
                                         }),
               std::runtime_error);
  EXPECT_EQ(vlm::io::read_file(target + "/w"), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator{}), 1);
}

TEST(AtomicFile, ReplacesDirectory) {
  vlm::test::TempDir dir;
  const std::string target = dir.path() + "/ckpt";
  vlm::io::write_dir_atomic(target, [](const std::string& tmp) { std::ofstream(tmp + "/a") << "1"; });
  vlm::io::write_dir_atomic(target, [](const std::string& tmp) { std::ofstream(tmp + "/b") << "2"; });
  EXPECT_FALSE(fs::exists(target + "/a"));
  EXPECT_EQ(vlm::io::read_file(target + "/b"), "2");
}

TEST(AtomicFile, ReadMissingFileNamesIt) {
  try {
    vlm::io::read_file("/nonexistent/x.json");
    FAIL() << "expected an error";
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/x.json: no such file");
  }
}
