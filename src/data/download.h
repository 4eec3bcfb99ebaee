// `vlm download`: img2dataset's job in C++. Fetches a table of image URLs with many concurrent
// connections (libcurl multi), checks, decodes, resizes and re-encodes each image as JPEG, and
// writes webdataset shards (NNNNN.tar with KEY.jpg / KEY.txt / KEY.json) plus NNNNN_stats.json per
// shard. Resumable: a shard whose stats file exists is complete and skipped; download.json records
// the input and layout, and a rerun that differs in either is refused.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vlm::data {

struct DownloadOptions {
  std::string input;                  // caption table: CSV/TSV/JSONL with url + caption, or CC's TSV
  std::string output;                 // folder for the shards (created)
  std::string url_column = "url";
  std::string caption_column = "caption";
  int concurrency = 64;               // parallel connections
  double connect_timeout_s = 10;
  double timeout_s = 30;              // whole transfer
  int retries = 2;                    // extra tries for transient failures (timeouts, 5xx, 429, connection)
  double backoff_s = 1.0;             // first retry after this, then doubling
  int64_t max_bytes = 20 << 20;       // larger responses are refused ("too_large")
  int max_redirects = 5;
  int image_size = 224;               // output size
  std::string resize_mode = "center_crop";  // center_crop, keep_ratio (short side), pad (long side, black border), none
  int jpeg_quality = 90;
  int shard_size = 1000;              // samples (rows) per shard
  int64_t max_rows = 0;               // 0 = all rows
  std::string user_agent = "vlm-download/1.0 (+https://github.com/rom1504/img2dataset compatible)";
  void validate() const;              // throws ConfigError
};

struct DownloadReport {
  int64_t rows = 0;
  int64_t rows_skipped = 0;           // malformed table rows (named in the log), not downloaded
  int64_t successes = 0;
  int64_t shards = 0;
  int64_t shards_skipped = 0;         // complete before this run
  std::map<std::string, int64_t> failures;  // by kind: timeout, connection, http_404, too_large, wrong_type, ...
  double seconds = 0;
  double success_rate() const { return rows > 0 ? static_cast<double>(successes) / static_cast<double>(rows) : 0.0; }
  std::string to_json() const;
  std::string summary() const;        // one human line
};

// Runs the whole job; progress lines go to the log. Throws FileError for an unreadable table or
// an unwritable output folder; failures of single URLs are counted, never thrown.
DownloadReport download_dataset(const DownloadOptions& options);

// One URL with the downloader's network rules (http/https only, limited redirects, connect and
// total timeouts, options.max_bytes enforced while receiving, an image content type, retries for
// transient failures): the body, or a FileError naming the URL and the failure kind
// ("http_404", "timeout", "too_large", "wrong_type", ...).
std::vector<uint8_t> fetch_url(const std::string& url, const DownloadOptions& options);

}  // namespace vlm::data
