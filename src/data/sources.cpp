// Format detection, tables and image folders (caption file beside the images), reading a sample's
// bytes. img2dataset's layouts live in source_img2dataset.cpp. Follows img2dataset's output
// conventions (github.com/rom1504/img2dataset) and webdataset's key/extension grouping.
#include "data/sources.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>

#include "data/file_bytes.h"
#include "data/source_internal.h"
#include "data/table.h"

namespace vlm::data {
namespace fs = std::filesystem;

namespace {

const char* const kCaptionFiles[] = {"captions.jsonl", "captions.csv", "captions.tsv", "captions.txt"};

bool has_tar(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".tar") return true;
  return false;
}

bool has_numbered_image_folder(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory()) continue;
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); }))
      continue;
    for (const auto& f : fs::directory_iterator(e.path()))
      if (f.is_regular_file() && is_image_name(f.path().string())) return true;
  }
  return false;
}

std::shared_ptr<Dataset> from_rows(const std::string& origin, const std::string& format, const TableRead& table,
                                   const fs::path& base) {
  std::map<std::string, SampleRef> by_key;
  for (const auto& row : table.rows) {
    SampleRef& s = by_key[row.image];
    if (s.key.empty()) {
      s.key = row.image;
      if (is_url(row.image)) {
        s.url = row.image;
      } else {
        const fs::path p(row.image);
        s.path = (p.is_absolute() ? p : base / p).lexically_normal().string();
      }
      s.split = row.split;
    }
    s.captions.insert(s.captions.end(), row.captions.begin(), row.captions.end());
    s.qa.insert(s.qa.end(), row.qa.begin(), row.qa.end());
  }
  auto ds = std::make_shared<Dataset>();
  ds->origin = origin;
  ds->format = format;
  ds->samples.reserve(by_key.size());
  for (auto& [key, s] : by_key) ds->samples.push_back(std::move(s));
  if (!table.skipped.empty()) {
    ds->left_out["bad_row"] = static_cast<int64_t>(table.skipped.size());
    ds->warnings.push_back(str(table.skipped.size(), " table row(s) skipped:"));
    constexpr size_t kNamed = 20;  // a table of millions of bad rows must not flood the terminal
    for (size_t i = 0; i < std::min(kNamed, table.skipped.size()); ++i) ds->warnings.push_back("  " + table.skipped[i]);
    if (table.skipped.size() > kNamed) ds->warnings.push_back(str("  ... and ", table.skipped.size() - kNamed, " more"));
  }
  return ds;
}

TableColumns columns_of(const DataSpec& spec) { return {spec.image_column, spec.caption_column, spec.qa_column}; }

}  // namespace

bool is_image_name(const std::string& name) {
  std::string ext = fs::path(name).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp";
}

std::string detect_format(const std::string& path) {
  const fs::path p(path);
  std::error_code ec;
  if (!fs::exists(p, ec)) throw FileError(path, "no such file or folder");
  if (fs::is_regular_file(p)) {
    if (p.extension() == ".tar") return "webdataset";
    return table_kind(path) == "cc_tsv" ? "cc_tsv" : "table";
  }
  if (!fs::is_directory(p)) throw FileError(path, "neither a file nor a folder");
  if (has_tar(p)) return "webdataset";
  for (const char* name : kCaptionFiles)
    if (fs::is_regular_file(p / name)) return "folder";
  if (has_numbered_image_folder(p)) return "files";
  if (is_class_folder(path)) return "classes";
  throw FileError(path, "cannot tell the dataset format",
                  "expected .tar shards (webdataset), captions.jsonl/.csv/.tsv/.txt beside images (folder), "
                  "img2dataset's numbered folders 00000/ (files), or one subfolder of images per class "
                  "(classes); or name it with --format");
}

std::shared_ptr<Dataset> open_dataset(const DataSpec& spec) {
  if (spec.path.empty()) throw ConfigError("data.path", "empty", "point it at a table, a folder or .tar shards");
  const std::string format = spec.format == "auto" ? detect_format(spec.path) : spec.format;
  std::shared_ptr<Dataset> ds;
  if (format == "table" || format == "cc_tsv") {
    const auto table = read_table_rows(spec.path, columns_of(spec), format == "cc_tsv" ? "cc_tsv" : "auto");
    ds = from_rows(spec.path, format, table, fs::path(spec.path).parent_path());
  } else if (format == "folder") {
    std::string table;
    for (const char* name : kCaptionFiles)
      if (fs::is_regular_file(fs::path(spec.path) / name)) {
        table = (fs::path(spec.path) / name).string();
        break;
      }
    if (table.empty())
      throw FileError(spec.path, "no captions.jsonl, captions.csv, captions.tsv or captions.txt in the folder");
    ds = from_rows(spec.path, format, read_table_rows(table, columns_of(spec)), fs::path(spec.path));
  } else if (format == "files") {
    ds = open_img2dataset_files(spec.path);
  } else if (format == "webdataset") {
    ds = open_webdataset(spec.path);
  } else if (format == "classes") {
    ds = open_class_folder(spec.path);
  } else {
    throw ConfigError("data.format", str("unknown format '", format, "'"),
                      "one of auto, table, cc_tsv, files, webdataset, folder, classes");
  }
  if (spec.max_samples > 0 && static_cast<int64_t>(ds->samples.size()) > spec.max_samples)
    ds->samples.resize(static_cast<size_t>(spec.max_samples));
  return ds;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) { return read_regular_file(path); }

std::vector<uint8_t> read_bytes(const SampleRef& sample) {
  if (!sample.url.empty())
    throw SampleError("not_downloaded", sample.url + ": a URL (download the table first with `vlm download`)");
  std::error_code ec;
  if (!fs::exists(sample.path, ec)) throw SampleError("missing", sample.path + ": no such file");
  try {
    if (sample.member.empty()) return read_regular_file(sample.path);
    return read_file_range(sample.path, sample.offset, sample.size);
  } catch (const FileError& e) {
    throw SampleError("unreadable", sample.member.empty() ? std::string(e.what())
                                                          : str(e.what(), " (member '", sample.member, "')"));
  }
}

}  // namespace vlm::data
