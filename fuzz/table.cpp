// libFuzzer target for the caption/URL table reader (data/table.h): the first byte picks the table
// kind (csv, tsv, jsonl, cc_tsv, captions_txt, or auto-detected from the content), the rest is
// the file, written to a per-process temporary file and read with read_table; the CSV/TSV record
// splitter parse_delimited gets the same bytes. A row read must carry an image location and line
// numbers that increase within the file. Only vlm::Error may escape; anything else (another
// exception such as nlohmann's, a sanitizer report, an abort) is a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "data/table.h"

namespace {

struct Kind {
  const char* name;       // read_table's kind
  const char* extension;  // the temporary file's extension (table_kind looks at it for "auto")
};
constexpr Kind kKinds[] = {{"csv", ".csv"},       {"tsv", ".tsv"},         {"jsonl", ".jsonl"},
                           {"cc_tsv", ".tsv"},    {"captions_txt", ".txt"}, {"auto", ".txt"}};

std::string scratch_path(const char* extension) {
  return (std::filesystem::temp_directory_path() / ("vlm-fuzz-table-" + std::to_string(::getpid()) + extension))
      .string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Kind& kind = kKinds[data[0] % (sizeof(kKinds) / sizeof(kKinds[0]))];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string path = scratch_path(kind.extension);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  try {
    const auto rows = vlm::data::read_table(path, vlm::data::TableColumns{}, kind.name);
    int64_t line = 0;
    for (const auto& row : rows) {
      if (row.image.empty() || row.line <= line) std::abort();
      line = row.line;
    }
  } catch (const vlm::Error&) {
  }
  try {
    const char delimiter = (data[0] & 1) ? '\t' : ',';
    int64_t line = 0;
    for (const auto& record : vlm::data::parse_delimited(text, delimiter, /*quoting=*/(data[0] & 2) != 0, "fuzz")) {
      if (record.line < line) std::abort();
      line = record.line;
    }
  } catch (const vlm::Error&) {
  }
  return 0;
}
