// The download job: table rows -> shards of shard_size rows, each fetched concurrently
// (download_fetch.cpp), processed (download_image.cpp) and written as NNNNN.tar under a temporary
// name, renamed, then NNNNN_stats.json written atomically last: the stats file marks a complete
// shard, so a rerun skips it and redoes any other from scratch. Keys (and so every file name) come
// from the row index, never from a URL: nothing is written outside the output folder.
// download.json records the input table (size, fingerprint) and the shard layout; a rerun with
// another input or layout is refused, since it would skip complete shards holding other rows.
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

// FNV-1a, 64 bits: the input table's fingerprint in download.json. data/ cannot link train/'s
// CRC32C, and this needs no strength, only to tell one table from another.
std::string fingerprint(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : bytes) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// What decides which row lands in which shard under which key, and how its image is made: a
// rerun must agree on all of it, or complete shards would be skipped that hold other rows.
// (--max-rows may change: shard k holds rows k*shard_size.. whatever the total, and a last
// shard whose row count changed is redone.)
nlohmann::json layout_of(const DownloadOptions& o) {
  const std::string table = io::read_file(o.input);
  return {{"input", {{"path", fs::absolute(o.input).lexically_normal().string()},
                     {"size", table.size()},
                     {"fnv1a64", fingerprint(table)}}},
          {"shard_size", o.shard_size},
          {"url_column", o.url_column},
          {"caption_column", o.caption_column},
          {"image_size", o.image_size},
          {"resize_mode", o.resize_mode},
          {"jpeg_quality", o.jpeg_quality}};
}

// The differences between a recorded layout and this run's, as "key: recorded here, now X".
std::string layout_differences(const nlohmann::json& recorded, const nlohmann::json& now) {
  std::string out;
  for (const auto& [key, value] : now.items()) {
    if (key == "input") {
      const auto& was = recorded.value("input", nlohmann::json::object());
      if (was.value("size", nlohmann::json()) != value["size"] || was.value("fnv1a64", nlohmann::json()) != value["fnv1a64"])
        out += str(out.empty() ? "" : "; ", "the input table differs (", was.value("path", std::string("?")), ", ",
                   was.value("size", nlohmann::json()).dump(), " bytes, was downloaded here; ", value["path"].get<std::string>(),
                   " has ", value["size"].dump(), ")");
    } else if (recorded.value(key, nlohmann::json()) != value) {
      out += str(out.empty() ? "" : "; ", key, " ", recorded.value(key, nlohmann::json()).dump(), " here, ",
                 value.dump(), " now");
    }
  }
  return out;
}

// Writes download.json into a new output folder, or checks an existing folder was written by a
// download with the same input and layout; throws FileError saying what differs and the fix.
void check_layout(const DownloadOptions& o, const fs::path& out_dir) {
  const nlohmann::json now = layout_of(o);
  const fs::path record = out_dir / "download.json";
  const std::string fix = "rerun with the options recorded in " + record.string() +
                          ", or give another --output (or delete the folder to download again)";
  if (fs::exists(record)) {
    nlohmann::json recorded;
    try {
      recorded = nlohmann::json::parse(io::read_file(record.string()));
    } catch (const nlohmann::json::exception& e) {
      throw FileError(record.string(), str("unreadable download record: ", e.what()), fix);
    }
    const std::string diff = layout_differences(recorded, now);
    if (!diff.empty()) throw FileError(o.output, "holds a download with another input or layout: " + diff, fix);
    return;
  }
  for (const auto& e : fs::directory_iterator(out_dir)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() == ".tar" || name.find("_stats.json") != std::string::npos) {
      throw FileError(o.output, "holds shards (" + name + ") but no download.json saying how they were made",
                      "give another --output, or delete the folder to download again");
    }
  }
  io::write_file_atomic(record.string(), now.dump(2) + "\n");
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
  try {
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
      // The table reader refuses invalid UTF-8; replacing any that slipped through keeps one
      // caption from losing the whole shard.
      tar.add(e.key + ".json", meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    tar.close();
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp_path, ec);  // a rerun redoes the shard from scratch
    throw;
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
  nlohmann::json j = {{"rows", rows},           {"rows_skipped", rows_skipped}, {"successes", successes},
                      {"success_rate", success_rate()}, {"shards", shards},
                      {"shards_skipped", shards_skipped}, {"failures", failures},
                      {"seconds", seconds}};
  return j.dump();
}

std::string DownloadReport::summary() const {
  std::string out = str("downloaded ", successes, "/", rows, " images (", static_cast<int>(success_rate() * 1000) / 10.0,
                        "%) into ", shards, " shard(s)");
  if (shards_skipped > 0) out += str(", ", shards_skipped, " already complete");
  if (rows_skipped > 0) out += str("; ", rows_skipped, " malformed table row(s) skipped");
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
  columns.image_flag = "--url-column";
  columns.caption_flag = "--caption-column";
  TableRead table = read_table_rows(o.input, columns);
  auto& rows = table.rows;
  if (o.max_rows > 0 && static_cast<int64_t>(rows.size()) > o.max_rows) rows.resize(static_cast<size_t>(o.max_rows));
  DownloadReport report;
  report.rows_skipped = static_cast<int64_t>(table.skipped.size());
  for (size_t i = 0; i < std::min<size_t>(20, table.skipped.size()); ++i) log::warn("skipped ", table.skipped[i]);
  if (table.skipped.size() > 20) log::warn("... and ", table.skipped.size() - 20, " more skipped rows");
  std::error_code ec;
  fs::create_directories(o.output, ec);
  if (!fs::is_directory(o.output)) throw FileError(o.output, "cannot create the output folder");
  const fs::path out_dir(o.output);
  check_layout(o, out_dir);
  for (const auto& e : fs::directory_iterator(out_dir)) {
    if (e.path().extension() == ".partial") fs::remove(e.path(), ec);  // a killed run's unfinished shard
  }
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
