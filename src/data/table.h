// Caption tables: CSV (RFC 4180 quoting), TSV, JSON Lines, Conceptual Captions' header-less
// "caption<TAB>url" TSV and a folder's "filename<TAB>caption" captions.txt, read into rows of
// image location + captions + QA. Hand-written: the formats are small, and every error must name
// the file and line, which the CSV libraries packaged here do not do for us.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/synthetic.h"  // QA

namespace vlm::data {

struct TableColumns {
  std::string image = "image";      // "url" is tried when this default is absent (and vice versa)
  std::string caption = "caption";  // a JSON list under "captions" is read too
  std::string qa = "qa";
};

struct TableRow {
  int64_t line = 0;                  // 1-based line where the row starts
  std::string image;                 // as written: relative path, absolute path or URL
  std::vector<std::string> captions;
  std::vector<QA> qa;
  std::string split;                 // a "split" column when present
};

// The table kind of a file: "csv", "tsv", "jsonl", "cc_tsv" (caption TAB url, no header) or
// "captions_txt" (filename TAB caption, no header). From the extension, then the first line.
std::string table_kind(const std::string& path);

// Reads every row; kind "auto" calls table_kind. Throws FileError "PATH: line N: ..." for
// malformed input (unterminated quote, wrong field count, bad JSON, missing column, empty image).
std::vector<TableRow> read_table(const std::string& path, const TableColumns& columns, const std::string& kind = "auto");

// True for http:// and https:// (case-insensitive scheme).
bool is_url(const std::string& s);

// Splits one CSV record set (exposed for tests): fields per record with the line each starts on.
struct CsvRecord {
  int64_t line = 0;
  std::vector<std::string> fields;
};
std::vector<CsvRecord> parse_delimited(const std::string& text, char delimiter, bool quoting, const std::string& origin);

}  // namespace vlm::data
