// Required flags (cli::Flag::required): a command run without one, or with it empty, exits 2 with one
// line naming the flag and its help as the hint, before any work; --help marks it.
#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace vlm::test {
namespace {

TEST(RequiredFlags, MissingOrEmptyIsAUsageErrorNamingTheFlag) {
  auto run = run_vlm("data stats");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_EQ(run.output.rfind("error: --data PATH is required (table (.csv", 0), 0u) << run.output;

  run = run_vlm("data stats --data=");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_EQ(run.output.rfind("error: --data PATH is required", 0), 0u) << run.output;

  run = run_vlm("eval caption-metrics --predictions p.jsonl");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_EQ(run.output.rfind("error: --references FILE is required", 0), 0u) << run.output;

  run = run_vlm("generate --prompt hi");
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_EQ(run.output.rfind("error: --model DIR is required", 0), 0u) << run.output;
}

TEST(RequiredFlags, HelpMarksThem) {
  const auto run = run_vlm("forward --help");
  EXPECT_EQ(run.status, 0);
  EXPECT_NE(run.output.find("--inputs FILE"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("(required) safetensors with pixel_values"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("(required) a PEFT LoRA adapter"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace vlm::test
