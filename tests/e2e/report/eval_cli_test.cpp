// The eval commands through the built CLI: `vlm eval caption-metrics` prints pycocoevalcap's
// numbers as one JSON object and names file and line on bad input; `vlm report` errors cleanly.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace {

TEST(EvalCli, CaptionMetricsPrintsOneJsonObject) {
  const std::string dir = vlm::test::fixture("eval/caption_case2");
  const auto r = vlm::test::run_vlm("eval caption-metrics --predictions " + dir + "/predictions.jsonl --references " +
                                    dir + "/references.jsonl", /*merge_stderr=*/false);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto got = nlohmann::json::parse(r.output);
  std::ifstream in(dir + "/expected.json");
  const auto want = nlohmann::json::parse(in);
  ASSERT_EQ(got.size(), 6u);
  for (const auto& [key, value] : want.items()) EXPECT_NEAR(got.at(key).get<double>(), value.get<double>(), 1e-6) << key;
}

TEST(EvalCli, CaptionMetricsErrorsNameFileAndLine) {
  vlm::test::TempDir tmp;
  const std::string bad = tmp.path() + "/p.jsonl";
  std::ofstream(bad) << "{\"image_id\": 1, \"caption\": \"a\"}\n{\"image_id\": 2}\n";
  const auto r = vlm::test::run_vlm("eval caption-metrics --predictions " + bad + " --references " + bad);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find(bad + ":2"), std::string::npos) << r.output;
  EXPECT_EQ(vlm::test::run_vlm("eval caption-metrics --predictions " + bad).status, 2);
}

TEST(EvalCli, ReportOfMissingDirectoryFails) {
  const auto r = vlm::test::run_vlm("report /nonexistent/run");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("/nonexistent/run"), std::string::npos) << r.output;
}

}  // namespace
