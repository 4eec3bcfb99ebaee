// `vlm data stats --data PATH [--format F]`: reads the dataset, decodes every image with worker
// threads and prints {"samples": N, "ok": N, "skipped": {"REASON": N}} (then the source's warnings
// on stderr), so bad data is found before a training run.
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/command.h"
#include "core/error.h"
#include "data/loader.h"
#include "data/sources.h"

namespace {

int run_data_stats(const vlm::cli::Args& args) {
  vlm::data::DataSpec spec;
  spec.path = args.get("--data");
  spec.format = args.get("--format", "auto");
  spec.image_column = args.get("--image-column", spec.image_column);
  spec.caption_column = args.get("--caption-column", spec.caption_column);
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto workers = static_cast<int>(args.get_int("--workers", hw));
  if (workers < 1 || workers > 256) throw vlm::UsageError(vlm::str("--workers must be 1..256, got ", workers));
  const auto dataset = vlm::data::open_dataset(spec);
  const auto stats = vlm::data::scan_dataset(*dataset, workers);
  nlohmann::json out;
  out["samples"] = dataset->samples.size();
  out["format"] = dataset->format;
  out["ok"] = stats.ok;
  out["skipped"] = nlohmann::json::object();
  for (const auto& [reason, n] : stats.skipped) out["skipped"][reason] = n;
  // What the source itself left out (bad table rows, captions whose image file is gone).
  for (const auto& [reason, n] : dataset->left_out) out["skipped"][reason] = out["skipped"].value(reason, int64_t{0}) + n;
  std::cout << out.dump() << "\n";
  for (const auto& w : dataset->warnings) std::cerr << "warning: " << w << "\n";
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "data stats",
    .usage = "--data PATH [--format F] [--workers N]",
    .summary = "decode every image of a dataset and count the samples that would be skipped, by reason",
    .flags = {{.name = "--data", .value_name = "PATH",
               .help = "table (.csv/.tsv/.jsonl), img2dataset folder, .tar shard(s) or image folder", .required = true},
              {"--format", "F", "auto (default), table, cc_tsv, files, webdataset, folder"},
              {"--image-column", "NAME", "table column with the image path or URL (default image, then url)"},
              {"--caption-column", "NAME", "table column with the caption (default caption)"},
              {"--workers", "N", "decoding threads (default: the CPU count)"}},
    .run = run_data_stats,
});

}  // namespace
