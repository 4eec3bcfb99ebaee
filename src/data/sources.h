// Dataset sources: what a data path holds, read into a list of samples (image location +
// captions + QA). Formats: CSV/TSV/JSONL tables (Conceptual Captions' header-less TSV too),
// img2dataset's `files` and `webdataset` output layouts, and a folder of images with a
// captions file (the synthetic demo's layout). Layouts follow img2dataset's and webdataset's
// documented conventions; no C++ library reads them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/synthetic.h"  // QA

namespace vlm::data {

// What to read. A plain struct with defaults; the run config binds its `data:` section to it.
struct DataSpec {
  std::string path;                         // table file, img2dataset folder, .tar / shard folder, image folder
  std::string format = "auto";              // auto, table, cc_tsv, files, webdataset, folder, classes
  std::string image_column = "image";       // table column with the image path or URL ("url" is tried too)
  std::string caption_column = "caption";   // table column with the caption ("captions": a JSON list)
  std::string qa_column = "qa";             // JSONL: [{"question": ..., "answer": ...}]
  int64_t max_samples = 0;                  // keep the first N samples (in key order), 0 = all
};

// Where one sample's image lives and what it says. Exactly one location kind is set.
struct SampleRef {
  std::string key;                          // stable id (relative image path, URL, or img2dataset key)
  std::string path;                         // image file, or the .tar shard when `member` is set
  std::string url;                          // http(s) URL (tables not downloaded yet)
  std::string member;                       // tar member name (webdataset)
  int64_t offset = 0;                       // byte offset of the member's data inside the shard
  int64_t size = -1;                        // member size in bytes
  std::vector<std::string> captions;        // one or more (several rows / a "captions" list)
  std::vector<QA> qa;
  std::string split;                        // the source's own split label ("train", "heldout"), may be empty
};

// Why a sample's bytes could not be had; reason() is "missing" (no such file), "unreadable"
// (I/O error, shard shorter than its index says) or "not_downloaded" (a URL: run `vlm download`).
class SampleError : public Error {
 public:
  SampleError(std::string reason, const std::string& what) : Error(what), reason_(std::move(reason)) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

struct Dataset {
  std::string origin;                       // the path it was read from
  std::string format;                       // the format it was read as (never "auto")
  std::vector<SampleRef> samples;           // sorted by key, keys unique
  std::vector<std::string> warnings;        // e.g. "shard 00003.tar: truncated after 412 members"
  // Entries of the source that could not become samples, by reason: "bad_row" (a table row
  // skipped, named in warnings), "missing_image" (img2dataset: a caption whose image file is absent).
  std::map<std::string, int64_t> left_out;
  size_t size() const { return samples.size(); }
};

// The format `path` holds ("table", "cc_tsv", "files", "webdataset", "folder"); throws FileError
// saying what was looked for when nothing matches.
std::string detect_format(const std::string& path);

// Reads the dataset. Malformed tables throw FileError naming the file and line; a missing path
// or an unknown format throws FileError / ConfigError. Image files are not opened here.
std::shared_ptr<Dataset> open_dataset(const DataSpec& spec);

// The encoded image bytes of a sample (file, or tar member at its indexed offset). Throws
// SampleError; never reads outside the member.
std::vector<uint8_t> read_bytes(const SampleRef& sample);

// Reads a whole file (FileError when it cannot be opened).
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace vlm::data
