// `vlm download --input TABLE --output DIR`: fetches a table of image URLs into webdataset shards
// (data/download.h); prints the report as one JSON line on stdout and a human line on stderr.
// Rerunning the same command resumes: complete shards are skipped.
#include <iostream>

#include "cli/command.h"
#include "core/error.h"
#include "data/download.h"

namespace {

int run_download(const vlm::cli::Args& args) {
  vlm::data::DownloadOptions o;
  o.input = args.get("--input");
  o.output = args.get("--output");
  o.url_column = args.get("--url-column", o.url_column);
  o.caption_column = args.get("--caption-column", o.caption_column);
  o.concurrency = static_cast<int>(args.get_int("--concurrency", o.concurrency));
  o.connect_timeout_s = args.get_double("--connect-timeout", o.connect_timeout_s);
  o.timeout_s = args.get_double("--timeout", o.timeout_s);
  o.retries = static_cast<int>(args.get_int("--retries", o.retries));
  o.backoff_s = args.get_double("--backoff", o.backoff_s);
  o.max_bytes = args.get_int("--max-bytes", o.max_bytes);
  o.max_redirects = static_cast<int>(args.get_int("--max-redirects", o.max_redirects));
  o.image_size = static_cast<int>(args.get_int("--image-size", o.image_size));
  o.resize_mode = args.get("--resize-mode", o.resize_mode);
  o.jpeg_quality = static_cast<int>(args.get_int("--jpeg-quality", o.jpeg_quality));
  o.shard_size = static_cast<int>(args.get_int("--shard-size", o.shard_size));
  o.max_rows = args.get_int("--max-rows", o.max_rows);
  const auto report = vlm::data::download_dataset(o);
  std::cout << report.to_json() << std::endl;
  std::cerr << report.summary() << std::endl;
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "download",
    .usage = "--input TABLE --output DIR [--concurrency N] [--image-size N] [--shard-size N] ...",
    .summary = "download a table of image URLs into webdataset shards (img2dataset's job; resumable)",
    .flags = {{.name = "--input", .value_name = "TABLE",
               .help = "CSV/TSV/JSONL with url and caption columns, or Conceptual Captions' TSV", .required = true},
              {.name = "--output", .value_name = "DIR",
               .help = "folder for NNNNN.tar shards and NNNNN_stats.json", .required = true},
              {"--url-column", "NAME", "column with the URL (default url, then image)"},
              {"--caption-column", "NAME", "column with the caption (default caption)"},
              {"--concurrency", "N", "parallel connections (default 64)"},
              {"--connect-timeout", "S", "seconds to connect (default 10)"},
              {"--timeout", "S", "seconds for a whole transfer (default 30)"},
              {"--retries", "N", "extra tries for timeouts, connection errors, 5xx and 429 (default 2)"},
              {"--backoff", "S", "first retry delay, doubling after (default 1)"},
              {"--max-bytes", "N", "refuse larger responses (default 20 MiB)"},
              {"--max-redirects", "N", "redirects followed, http/https only (default 5)"},
              {"--image-size", "N", "output side in pixels (default 224)"},
              {"--resize-mode", "M", "center_crop (default), keep_ratio, pad, none"},
              {"--jpeg-quality", "Q", "1..100 (default 90)"},
              {"--shard-size", "N", "rows per shard (default 1000)"},
              {"--max-rows", "N", "download only the first N rows"}},
    .run = run_download,
});

}  // namespace
