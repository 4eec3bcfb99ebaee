// The download job: table rows -> shards of shard_size rows, each fetched concurrently
// (download_fetch.cpp), processed (download_image.cpp) and written as NNNNN.tar under a temporary
// name, renamed, then NNNNN_stats.json written atomically last: the stats file marks a complete
// shard, so a rerun skips it and redoes any other from scratch. Keys (and so every file name) come
// from the row index, never from a URL: nothing is written outside the output folder.
#include "data/download.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/error.h"
#include "core/log.h"
#include "data/download_internal.h"
#include "data/table.h"
#include "data/tar.h"
#include "io/atomic_file.h"

namespace vlm::data {
namespace fs = std::filesystem;

namespace {

std::string shard_name(int64_t shard) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%05lld", static_cast<long long>(shard));
  return buf;
}

// img2dataset's keys: shard number (5 digits) then the index in the shard (enough digits for shard_size).
std::string sample_key(int64_t shard, int64_t index, int shard_size) {
  size_t digits = 1;
  for (int64_t p = 10; p < shard_size; p *= 10) ++digits;
  std::string i = std::to_string(index);
  if (i.size() < digits) i.insert(0, digits - i.size(), '0');
  return shard_name(shard) + i;
}

struct ShardStats {
  int64_t count = 0;
  int64_t successes = 0;
  std::map<std::string, int64_t> failures;
};

// The stats of a complete shard, or nothing when the file is absent or unreadable.
std::optional<ShardStats> read_stats(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(io::read_file(path.string()));
    if (!j.value("complete", false)) return std::nullopt;
    ShardStats s;
    s.count = j.at("count").get<int64_t>();
    s.successes = j.at("successes").get<int64_t>();
    for (const auto& [kind, n] : j.at("failures").items()) s.failures[kind] = n.get<int64_t>();
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void add(DownloadReport& report, const ShardStats& s) {
  report.rows += s.count;
  report.successes += s.successes;
  for (const auto& [kind, n] : s.failures) report.failures[kind] += n;
}

struct Entry {
  std::string key, url, caption;
  std::string kind, message;  // failure, when kind is set
  ProcessedImage image;
  int attempts = 0;
};

ShardStats download_shard(int64_t shard, const std::vector<TableRow>& rows, int64_t first, int64_t last,
                          const DownloadOptions& o, const fs::path& out_dir) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Entry> entries(static_cast<size_t>(last - first));
  std::vector<std::string> urls;
  std::vector<size_t> fetched;  // entry index of each URL
  for (int64_t r = first; r < last; ++r) {
    Entry& e = entries[static_cast<size_t>(r - first)];
    e.key = sample_key(shard, r - first, o.shard_size);
    e.url = rows[static_cast<size_t>(r)].image;
    e.caption = rows[static_cast<size_t>(r)].captions.empty() ? "" : rows[static_cast<size_t>(r)].captions[0];
    if (!is_url(e.url)) {
      e.kind = "bad_url";
      e.message = "only http and https URLs are fetched";
      continue;
    }
    urls.push_back(e.url);
    fetched.push_back(static_cast<size_t>(r - first));
  }
  fetch_all(urls, o, [&](size_t i, FetchResult&& result) {
    Entry& e = entries[fetched[i]];
    e.attempts = result.attempts;
    if (!result.kind.empty()) {
      e.kind = result.kind;
      e.message = result.message;
      return;
    }
    e.image = process_image(result.body, e.url, o);
    e.kind = e.image.kind;
    e.message = e.image.message;
  });

  const std::string name = shard_name(shard);
  const fs::path tar_path = out_dir / (name + ".tar");
  const fs::path tmp_path = out_dir / (name + ".tar.partial");
  ShardStats stats;
  stats.count = last - first;
  {
    TarWriter tar(tmp_path.string());
    for (const Entry& e : entries) {
      if (!e.kind.empty()) {
        ++stats.failures[e.kind];
        continue;
      }
      ++stats.successes;
      nlohmann::json meta = {{"key", e.key},
                             {"url", e.url},
                             {"caption", e.caption},
                             {"status", "success"},
                             {"error_message", nullptr},
                             {"width", e.image.width},
                             {"height", e.image.height},
                             {"original_width", e.image.original_width},
                             {"original_height", e.image.original_height}};
      tar.add(e.key + ".jpg", e.image.jpeg);
      tar.add(e.key + ".txt", e.caption);
      tar.add(e.key + ".json", meta.dump());
    }
    tar.close();
  }
  io::fsync_path(tmp_path.string());
  fs::rename(tmp_path, tar_path);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json j = {{"shard", name},         {"count", stats.count},
                      {"successes", stats.successes}, {"failed", stats.count - stats.successes},
                      {"failures", stats.failures},   {"seconds", seconds},
                      {"complete", true}};
  io::write_file_atomic((out_dir / (name + "_stats.json")).string(), j.dump(2) + "\n");
  return stats;
}

}  // namespace

void DownloadOptions::validate() const {
  if (input.empty()) throw ConfigError("input", "no input table given");
  if (output.empty()) throw ConfigError("output", "no output folder given");
  if (concurrency < 1 || concurrency > 4096) throw ConfigError("concurrency", str("must be 1..4096, got ", concurrency));
  if (!(timeout_s > 0) || !(connect_timeout_s > 0)) throw ConfigError("timeout", "timeouts must be > 0");
  if (retries < 0 || retries > 10) throw ConfigError("retries", str("must be 0..10, got ", retries));
  if (backoff_s < 0) throw ConfigError("backoff", "must be >= 0");
  if (max_bytes < 1) throw ConfigError("max_bytes", "must be >= 1");
  if (max_redirects < 0) throw ConfigError("max_redirects", "must be >= 0");
  if (image_size < 8 || image_size > 4096) throw ConfigError("image_size", str("must be 8..4096, got ", image_size));
  if (resize_mode != "center_crop" && resize_mode != "keep_ratio" && resize_mode != "pad" && resize_mode != "none")
    throw ConfigError("resize_mode", str("unknown mode '", resize_mode, "'"), "one of center_crop, keep_ratio, pad, none");
  if (jpeg_quality < 1 || jpeg_quality > 100) throw ConfigError("jpeg_quality", "must be 1..100");
  if (shard_size < 1 || shard_size > 1000000) throw ConfigError("shard_size", "must be 1..1000000");
  if (max_rows < 0) throw ConfigError("max_rows", "must be >= 0");
}

std::string DownloadReport::to_json() const {
  nlohmann::json j = {{"rows", rows},           {"successes", successes},
                      {"success_rate", success_rate()}, {"shards", shards},
                      {"shards_skipped", shards_skipped}, {"failures", failures},
                      {"seconds", seconds}};
  return j.dump();
}

std::string DownloadReport::summary() const {
  std::string out = str("downloaded ", successes, "/", rows, " images (", static_cast<int>(success_rate() * 1000) / 10.0,
                        "%) into ", shards, " shard(s)");
  if (shards_skipped > 0) out += str(", ", shards_skipped, " already complete");
  out += str(" in ", static_cast<int64_t>(seconds * 10) / 10.0, " s");
  if (!failures.empty()) {
    out += "; failures:";
    for (const auto& [kind, n] : failures) out += str(" ", kind, " ", n);
  }
  return out;
}

DownloadReport download_dataset(const DownloadOptions& o) {
  o.validate();
  const auto t0 = std::chrono::steady_clock::now();
  TableColumns columns;
  columns.image = o.url_column;
  columns.caption = o.caption_column;
  auto rows = read_table(o.input, columns);
  if (o.max_rows > 0 && static_cast<int64_t>(rows.size()) > o.max_rows) rows.resize(static_cast<size_t>(o.max_rows));
  std::error_code ec;
  fs::create_directories(o.output, ec);
  if (!fs::is_directory(o.output)) throw FileError(o.output, "cannot create the output folder");
  const fs::path out_dir(o.output);
  DownloadReport report;
  const auto n = static_cast<int64_t>(rows.size());
  report.shards = (n + o.shard_size - 1) / o.shard_size;
  for (int64_t shard = 0; shard < report.shards; ++shard) {
    const int64_t first = shard * o.shard_size, last = std::min(n, first + o.shard_size);
    const fs::path stats_path = out_dir / (shard_name(shard) + "_stats.json");
    if (const auto done = read_stats(stats_path); done && done->count == last - first) {
      add(report, *done);
      ++report.shards_skipped;
      continue;
    }
    const ShardStats stats = download_shard(shard, rows, first, last, o, out_dir);
    add(report, stats);
    log::info("shard ", shard_name(shard), ": ", stats.successes, "/", stats.count, " images (", shard + 1, "/",
              report.shards, " shards)");
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace vlm::data
