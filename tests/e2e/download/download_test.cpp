// `vlm download` end to end against a local HTTP server: good images (also via a redirect and
// after a transient 503), broken, non-image, slow, huge, wrong-type, redirect to ftp, redirect
// loop, 404 and 500 responses; shards, per-shard stats and the report checked; then a run killed
// after its first shard and resumed, the result complete and readable by the webdataset source.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fcntl.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "data/image.h"
#include "data/sources.h"
#include "io/atomic_file.h"
#include "e2e/download/http_server.h"
#include "test_util.h"
#include "unit/data/data_test_util.h"

extern char** environ;

namespace vlm::test {
namespace {

namespace fs = std::filesystem;

HttpServer::Response route(const std::string& path, int hit) {
  HttpServer::Response r;
  auto jpeg = [](int tag) {
    const auto b = data::encode_jpeg(tagged_image(tag, 64, 48));
    return std::string(b.begin(), b.end());
  };
  if (path.rfind("/img/", 0) == 0) {
    r.body = jpeg(std::atoi(path.c_str() + 5));
  } else if (path.rfind("/png/", 0) == 0) {
    const auto b = tagged_png(std::atoi(path.c_str() + 5), 40, 60);
    r.body.assign(b.begin(), b.end());
    r.content_type = "image/png";
  } else if (path.rfind("/delay/", 0) == 0) {
    r.body = jpeg(std::atoi(path.c_str() + 7));
    r.delay_s = 0.3;
  } else if (path == "/broken.jpg") {
    r.body = jpeg(1).substr(0, 300) + std::string(200, '\x13');
  } else if (path == "/text.jpg") {
    r.body = "hello, this is not a picture";
  } else if (path == "/slow.jpg") {
    r.body = jpeg(2);
    r.delay_s = 2.5;
  } else if (path == "/huge.jpg") {
    r.body = "\xFF\xD8\xFF" + std::string(3'000'000, 'x');
  } else if (path == "/huge-stream.jpg") {
    r.body = "\xFF\xD8\xFF" + std::string(3'000'000, 'x');
    r.send_length = false;
  } else if (path == "/redirect.jpg") {
    r.status = 302;
    r.location = "/img/7.jpg";
  } else if (path == "/redirect-ftp.jpg") {
    r.status = 302;
    r.location = "ftp://127.0.0.1/secret.jpg";
  } else if (path == "/loop.jpg") {
    r.status = 302;
    r.location = "/loop.jpg";
  } else if (path == "/page.html") {
    r.content_type = "text/html";
    r.body = "<html>no</html>";
  } else if (path == "/flaky.jpg") {
    if (hit == 1) r.status = 503;
    r.body = hit == 1 ? "busy" : jpeg(9);
    if (hit == 1) r.content_type = "text/plain";
  } else if (path == "/error.jpg") {
    r.status = 500;
    r.content_type = "text/plain";
    r.body = "oops";
  } else {
    r.status = 404;
    r.content_type = "text/html";
    r.body = "not found";
  }
  return r;
}

nlohmann::json report_of(const RunResult& run) {
  const size_t start = run.output.find('{');
  EXPECT_NE(start, std::string::npos) << run.output;
  return nlohmann::json::parse(run.output.substr(start, run.output.find('\n', start) - start));
}

TEST(Download, FetchesChecksAndShards) {
  HttpServer server(route);
  TempDir dir;
  struct Row {
    std::string url;
    std::string expect;  // "" = success, else failure kind
  };
  const std::vector<Row> rows = {
      {server.url("/img/1.jpg"), ""},           {server.url("/png/2.png"), ""},
      {server.url("/redirect.jpg"), ""},        {server.url("/flaky.jpg"), ""},
      {server.url("/img/3.jpg"), ""},           {server.url("/broken.jpg"), "image_"},
      {server.url("/text.jpg"), "not_image"},   {server.url("/slow.jpg"), "timeout"},
      {server.url("/huge.jpg"), "too_large"},   {server.url("/huge-stream.jpg"), "too_large"},
      {server.url("/redirect-ftp.jpg"), "unsupported_protocol"},
      {server.url("/loop.jpg"), "too_many_redirects"},
      {server.url("/page.html"), "wrong_type"}, {server.url("/missing.jpg"), "http_404"},
      {server.url("/error.jpg"), "http_500"},   {"file:///etc/passwd", "bad_url"},
      {"ftp://127.0.0.1/x.jpg", "bad_url"},     {"http://127.0.0.1:1/refused.jpg", "connection"},
  };
  std::string table = "url,caption\n";
  for (size_t i = 0; i < rows.size(); ++i) table += rows[i].url + ",caption number " + std::to_string(i) + "\n";
  write_text(dir.path() + "/urls.csv", table);
  const std::string out = dir.path() + "/shards";
  const auto run = run_vlm(str("download --input ", dir.path(), "/urls.csv --output ", out,
                               " --shard-size 5 --image-size 32 --timeout 1 --connect-timeout 1 --retries 1"
                               " --backoff 0.05 --max-bytes 1000000 --concurrency 8"),
                           /*merge_stderr=*/false);
  ASSERT_EQ(run.status, 0) << run.output;
  const auto report = report_of(run);
  EXPECT_EQ(report["rows"], 18);
  EXPECT_EQ(report["successes"], 5);
  EXPECT_EQ(report["shards"], 4);
  EXPECT_EQ(report["shards_skipped"], 0);
  const auto& failures = report["failures"];
  std::map<std::string, int> expected;
  for (const auto& r : rows)
    if (!r.expect.empty() && r.expect != "image_") ++expected[r.expect];
  for (const auto& [kind, n] : expected) EXPECT_EQ(failures.value(kind, 0), n) << kind << " in " << failures.dump();
  int image_failures = 0;
  for (const auto& [kind, n] : failures.items())
    if (kind.rfind("image_", 0) == 0) image_failures += n.get<int>();
  EXPECT_EQ(image_failures, 1) << failures.dump();
  // Retries: transient failures tried twice, 4xx once.
  EXPECT_EQ(server.hits("/missing.jpg"), 1);
  EXPECT_EQ(server.hits("/error.jpg"), 2);
  EXPECT_EQ(server.hits("/flaky.jpg"), 2);
  // Shards and their stats.
  for (int s = 0; s < 4; ++s) {
    EXPECT_TRUE(fs::exists(str(out, "/0000", s, ".tar")));
    const auto stats = nlohmann::json::parse(io::read_file(str(out, "/0000", s, "_stats.json")));
    EXPECT_EQ(stats["complete"], true);
    EXPECT_EQ(stats["count"], s < 3 ? 5 : 3);
  }
  EXPECT_EQ(nlohmann::json::parse(io::read_file(out + "/00000_stats.json"))["successes"], 5);
  // Readable by the webdataset source: resized JPEGs with their captions and metadata.
  data::DataSpec spec;
  spec.path = out;
  const auto ds = data::open_dataset(spec);
  ASSERT_EQ(ds->size(), 5u);
  EXPECT_EQ(ds->format, "webdataset");
  EXPECT_EQ(ds->samples[0].key, "000000");
  EXPECT_EQ(ds->samples[0].captions[0], "caption number 0");
  EXPECT_EQ(ds->samples[4].key, "000004");
  for (const auto& s : ds->samples) {
    const auto image = data::decode_image(data::read_bytes(s), s.key);
    EXPECT_EQ(image.width, 32);
    EXPECT_EQ(image.height, 32);
  }
  for (const auto& e : fs::directory_iterator(out))  // shards and stats only, no leftovers
    EXPECT_TRUE(e.path().extension() == ".tar" || e.path().extension() == ".json") << e.path();
}

TEST(Download, KilledRunResumesFromCompleteShards) {
  HttpServer server(route);
  TempDir dir;
  std::string table = "url\tcaption\n";
  for (int i = 0; i < 12; ++i) table += server.url(str("/delay/", i, ".jpg")) + "\tcaption " + std::to_string(i) + "\n";
  write_text(dir.path() + "/urls.tsv", table);
  const std::string out = dir.path() + "/shards";
  const std::vector<std::string> args = {VLM_BINARY, "download", "--input", dir.path() + "/urls.tsv", "--output", out,
                                         "--shard-size", "2", "--image-size", "16", "--concurrency", "2"};
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, VLM_BINARY, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  for (int i = 0; i < 2000 && !fs::exists(out + "/00000_stats.json"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(fs::exists(out + "/00000_stats.json"));
  ASSERT_FALSE(fs::exists(out + "/00005_stats.json")) << "the run finished before it was killed";
  const int first_hits = server.hits("/delay/0.jpg");

  const auto run = run_vlm(str("download --input ", dir.path(), "/urls.tsv --output ", out,
                               " --shard-size 2 --image-size 16 --concurrency 4"),
                           /*merge_stderr=*/false);
  ASSERT_EQ(run.status, 0) << run.output;
  const auto report = report_of(run);
  EXPECT_EQ(report["rows"], 12);
  EXPECT_EQ(report["successes"], 12);
  EXPECT_GE(report["shards_skipped"].get<int>(), 1);
  EXPECT_EQ(server.hits("/delay/0.jpg"), first_hits);  // the complete shard was not fetched again
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_NE(e.path().extension(), ".partial") << e.path();
  data::DataSpec spec;
  spec.path = out;
  const auto ds = data::open_dataset(spec);
  ASSERT_EQ(ds->size(), 12u);
  EXPECT_TRUE(ds->warnings.empty());
  for (const auto& s : ds->samples) EXPECT_EQ(data::decode_image(data::read_bytes(s), s.key).width, 16);
}

TEST(Download, BadArgumentsAreClearErrors) {
  TempDir dir;
  auto run = run_vlm(str("download --input ", dir.path(), "/none.csv --output ", dir.path(), "/o"));
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.output.find("none.csv"), std::string::npos) << run.output;
  run = run_vlm(str("download --output ", dir.path()));
  EXPECT_EQ(run.status, 2) << run.output;
  write_text(dir.path() + "/t.csv", "url,caption\nhttp://127.0.0.1:1/a.jpg,x\n");
  run = run_vlm(str("download --input ", dir.path(), "/t.csv --output ", dir.path(), "/o --resize-mode squash"));
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.output.find("resize_mode"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace vlm::test
