// Hostile data through the CLI (issue 22, items 2, 3, 4 and 8): tar shards whose pax headers
// declare sizes near 2^63 or negative ones, URL tables with a Latin-1 caption or an empty url,
// reruns of `vlm download` with another shard layout or input, and an img2dataset folder missing
// an image file. Each must be skipped or refused with the shard, member, row or file named:
// never a crash, a silent loss or a duplicated row.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/image.h"
#include "e2e/download/http_server.h"
#include "io/atomic_file.h"
#include "test_util.h"
#include "unit/data/data_test_util.h"

namespace vlm::test {
namespace {

namespace fs = std::filesystem;

// One 512-byte ustar header with its checksum.
std::string tar_header(const std::string& name, int64_t size, char type) {
  std::string h(512, '\0');
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 99));
  std::snprintf(h.data() + 100, 8, "%07o", 0644);
  std::snprintf(h.data() + 108, 8, "%07o", 0);
  std::snprintf(h.data() + 116, 8, "%07o", 0);
  std::snprintf(h.data() + 124, 12, "%011llo", static_cast<unsigned long long>(size));
  std::snprintf(h.data() + 136, 12, "%011o", 0);
  h[156] = type;
  std::memcpy(h.data() + 257, "ustar\0" "00", 8);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (const char c : h) sum += static_cast<unsigned char>(c);
  std::snprintf(h.data() + 148, 8, "%06o", sum);
  h[155] = ' ';
  return h;
}

std::string padded(const std::string& data) { return data + std::string((512 - data.size() % 512) % 512, '\0'); }

std::string member(const std::string& name, const std::string& data) { return tar_header(name, static_cast<int64_t>(data.size()), '0') + padded(data); }

// A pax extended header carrying `records` ("size=..." lines), for the member that follows.
std::string pax(const std::string& record) {
  std::string line = " " + record + "\n";
  std::string len = std::to_string(line.size() + 2);
  line = std::to_string(line.size() + len.size()) + line;
  return tar_header("PaxHeader/x", static_cast<int64_t>(line.size()), 'x') + padded(line);
}

std::string good_sample() {
  const auto jpeg = data::encode_jpeg(tagged_image(1, 24, 24));
  return member("good.jpg", std::string(jpeg.begin(), jpeg.end())) + member("good.txt", "a good caption");
}

nlohmann::json first_json_line(const std::string& output) {
  const size_t start = output.find('{');
  if (start == std::string::npos) return {};
  return nlohmann::json::parse(output.substr(start, output.find('\n', start) - start), nullptr, false);
}

}  // namespace

TEST(HostileShards, PaxSizesNearTwoToTheSixtyThirdAreBoundedAndNamed) {
  TempDir dir;
  struct Case {
    std::string record, expect;
  };
  const std::vector<Case> cases = {
      {"size=9223372036854775000", "member 'bad.jpg' truncated (9223372036854775000 bytes declared"},
      {"size=9223372036854775807", "member 'bad.jpg' truncated (9223372036854775807 bytes declared"},
      {"size=99999999999999999999", "pax size '99999999999999999999' is not a byte count"},
      {"size=-4096", "pax size '-4096' is not a byte count"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string shard = str(dir.path(), "/s", i, ".tar");
    write_text(shard, good_sample() + pax(cases[i].record) + tar_header("bad.jpg", 16, '0') + padded("0123456789abcdef") +
                          std::string(1024, '\0'));
    const auto run = run_vlm("data stats --workers 1 --data " + shard);
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_EQ(run.output.find("bad_alloc"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("warning: " + shard + ": "), std::string::npos) << run.output;
    EXPECT_NE(run.output.find(cases[i].expect), std::string::npos) << cases[i].record << "\n" << run.output;
    EXPECT_EQ(first_json_line(run.output).value("ok", -1), 1) << run.output;
  }
}

TEST(HostileTables, BadRowsAreSkippedNamedAndTheRestDownloaded) {
  HttpServer server([](const std::string& path, int) {
    HttpServer::Response r;
    const auto b = data::encode_jpeg(tagged_image(std::atoi(path.c_str() + 5), 32, 32));
    r.body.assign(b.begin(), b.end());
    return r;
  });
  TempDir dir;
  std::string table = "url,caption\n";
  for (int i = 0; i < 6; ++i) {
    if (i == 2) table += server.url("/img/2.jpg") + ",caf\xE9 au lait\n";  // Latin-1
    else if (i == 4) table += ",no url here\n";
    else table += server.url(str("/img/", i, ".jpg")) + ",caption " + std::to_string(i) + "\n";
  }
  write_text(dir.path() + "/urls.csv", table);
  const std::string out = dir.path() + "/shards";
  const std::string cmd = str("download --input ", dir.path(), "/urls.csv --output ", out,
                              " --shard-size 2 --image-size 16 --concurrency 2");
  const auto run = run_vlm(cmd);
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("urls.csv: line 4: the caption is not valid UTF-8"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("urls.csv: line 6: empty image field 'url'"), std::string::npos) << run.output;
  const auto report = first_json_line(run.output);
  EXPECT_EQ(report.value("rows", -1), 4) << run.output;
  EXPECT_EQ(report.value("rows_skipped", -1), 2) << run.output;
  EXPECT_EQ(report.value("successes", -1), 4) << run.output;
  for (const auto& e : fs::directory_iterator(out)) EXPECT_NE(e.path().extension(), ".partial") << e.path();
  // A rerun finds every shard complete.
  const auto again = run_vlm(cmd);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(first_json_line(again.output).value("shards_skipped", -1), 2) << again.output;

  // The hint for a missing column names the flag `download` has.
  write_text(dir.path() + "/cols.csv", "link,caption\nhttp://x/a.jpg,a\n");
  const auto cols = run_vlm(str("download --input ", dir.path(), "/cols.csv --output ", dir.path(), "/o2"));
  EXPECT_EQ(cols.status, 1);
  EXPECT_NE(cols.output.find("--url-column"), std::string::npos) << cols.output;
  EXPECT_EQ(cols.output.find("--image-column"), std::string::npos) << cols.output;
}

TEST(HostileTables, ARerunWithAnotherLayoutOrInputIsRefused) {
  HttpServer server([](const std::string& path, int) {
    HttpServer::Response r;
    const auto b = data::encode_jpeg(tagged_image(std::atoi(path.c_str() + 5), 32, 32));
    r.body.assign(b.begin(), b.end());
    return r;
  });
  TempDir dir;
  std::string table = "url,caption\n";
  for (int i = 0; i < 15; ++i) table += server.url(str("/img/", i, ".jpg")) + ",caption " + std::to_string(i) + "\n";
  write_text(dir.path() + "/urls.csv", table);
  const std::string out = dir.path() + "/shards";
  const std::string base = str("download --input ", dir.path(), "/urls.csv --output ", out, " --image-size 16 --concurrency 2");
  ASSERT_EQ(run_vlm(base + " --shard-size 5").status, 0);
  const auto other = run_vlm(base + " --shard-size 3");
  EXPECT_EQ(other.status, 1) << other.output;
  EXPECT_NE(other.output.find("shard_size 5 here, 3 now"), std::string::npos) << other.output;
  EXPECT_TRUE(fs::exists(out + "/download.json"));
  // The shards are those of the first layout, each row once.
  const auto stats = run_vlm("data stats --workers 1 --data " + out);
  EXPECT_EQ(first_json_line(stats.output).value("samples", -1), 15) << stats.output;
  // Another table into the same folder.
  write_text(dir.path() + "/urls.csv", table + server.url("/img/99.jpg") + ",one more\n");
  const auto changed = run_vlm(base + " --shard-size 5");
  EXPECT_EQ(changed.status, 1) << changed.output;
  EXPECT_NE(changed.output.find("the input table differs"), std::string::npos) << changed.output;
}

TEST(HostileFolders, AnImg2datasetSampleWithoutItsImageIsCountedAndNamed) {
  TempDir dir;
  const std::string root = dir.path() + "/files";
  for (int i = 0; i < 3; ++i) {
    write_bytes(str(root, "/00000/00000000", i, ".jpg"), data::encode_jpeg(tagged_image(i, 24, 24)));
    write_text(str(root, "/00000/00000000", i, ".txt"), "caption " + std::to_string(i));
  }
  fs::remove(root + "/00000/000000001.jpg");
  const auto run = run_vlm("data stats --workers 1 --data " + root);
  ASSERT_EQ(run.status, 0) << run.output;
  const auto stats = first_json_line(run.output);
  EXPECT_EQ(stats.value("ok", -1), 2) << run.output;
  EXPECT_EQ(stats["skipped"].value("missing_image", -1), 1) << run.output;
  EXPECT_NE(run.output.find("without their image file left out (000000001)"), std::string::npos) << run.output;
}

}  // namespace vlm::test
