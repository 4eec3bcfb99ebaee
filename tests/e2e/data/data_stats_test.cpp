// `vlm data stats` end to end: a folder dataset with good and damaged images prints the counts
// as one JSON object; a malformed table is one clear error line naming file and line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"
#include "unit/data/data_test_util.h"

namespace vlm::test {
namespace {

TEST(DataStats, CountsSkippedSamplesByReason) {
  TempDir dir;
  std::string table = "image,caption\n";
  for (int i = 0; i < 6; ++i) {
    write_bytes(dir.path() + "/" + std::to_string(i) + ".png", tagged_png(i));
    table += std::to_string(i) + ".png,picture " + std::to_string(i) + "\n";
  }
  write_bytes(dir.path() + "/bad.png", std::vector<uint8_t>(64, 7));
  write_bytes(dir.path() + "/empty.png", {});
  table += "bad.png,broken\nempty.png,nothing\nmissing.png,gone\n";
  write_text(dir.path() + "/captions.csv", table);
  const auto run = run_vlm("data stats --workers 2 --data " + dir.path(), /*merge_stderr=*/false);
  ASSERT_EQ(run.status, 0) << run.output;
  const auto j = nlohmann::json::parse(run.output);
  EXPECT_EQ(j["samples"], 9);
  EXPECT_EQ(j["ok"], 6);
  EXPECT_EQ(j["format"], "folder");
  EXPECT_EQ(j["skipped"]["empty"], 1);
  EXPECT_EQ(j["skipped"]["missing"], 1);
  EXPECT_EQ(j["skipped"].size(), 3u) << j.dump();
}

TEST(DataStats, MalformedTableIsOneClearError) {
  TempDir dir;
  write_text(dir.path() + "/t.csv", "image,caption\na.png,\"open\n");
  const auto run = run_vlm("data stats --data " + dir.path() + "/t.csv");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.output.find("t.csv: line 2: unterminated quoted field"), std::string::npos) << run.output;
  EXPECT_EQ(run_vlm("data stats").status, 2);
}

}  // namespace
}  // namespace vlm::test
