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
  // How the caller's user names these columns, for hints: `vlm download` has --url-column.
  std::string image_flag = "--image-column (data.image_column)";
  std::string caption_flag = "--caption-column (data.caption_column)";
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

// The rows read, and those left out: "PATH: line N: why" for a row with a wrong field count, a
// line that is not JSON, an empty image field, text that is not UTF-8, a malformed 'qa'.
struct TableRead {
  std::vector<TableRow> rows;
  std::vector<std::string> skipped;
};

// Reads every row; kind "auto" calls table_kind. A bad row is skipped and named (one Latin-1
// caption in three million rows must not stop a download); what spoils the whole table (no such
// column, an unterminated quote, no header) throws FileError "PATH: line N: ...".
TableRead read_table_rows(const std::string& path, const TableColumns& columns, const std::string& kind = "auto");
// Strict: as read_table_rows, but the first bad row throws its FileError.
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
