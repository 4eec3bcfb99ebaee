// Caption table readers (CSV with RFC 4180 quoting, TSV, JSONL, Conceptual Captions' TSV,
// captions.txt). Written here so every error names the file and the line; see table.h.
#include "data/table.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "core/error.h"

namespace vlm::data {
namespace {

// A problem with one row: the row is left out and named, the rest of the table is read.
struct RowError {
  int64_t line;
  std::string why;
};

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

// Row-level checks every reader applies: an image field and UTF-8 text (a Latin-1 caption would
// fail later, in JSON metadata or the tokenizer, far from the line that holds it).
void check_row(const TableRow& row, const std::string& image_name) {
  if (row.image.empty()) throw RowError{row.line, "empty image field '" + image_name + "'"};
  if (!valid_utf8(row.image)) throw RowError{row.line, "the image field '" + image_name + "' is not valid UTF-8"};
  for (const auto& c : row.captions)
    if (!valid_utf8(c)) throw RowError{row.line, "the caption is not valid UTF-8 (Latin-1? re-encode the table as UTF-8)"};
  for (const auto& qa : row.qa)
    if (!valid_utf8(qa.question) || !valid_utf8(qa.answer)) throw RowError{row.line, "a 'qa' item is not valid UTF-8"};
}

// Runs read_row(); a RowError leaves the row out, named in `skipped` as "PATH: line N: why".
template <typename ReadRow>
void keep_or_skip(const std::string& path, TableRead& out, const ReadRow& read_row) {
  try {
    if (auto row = read_row()) out.rows.push_back(std::move(*row));
  } catch (const RowError& e) {
    out.skipped.push_back(str(path, ": line ", e.line, ": ", e.why));
  }
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open the table");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() >= 3 && static_cast<uint8_t>(text[0]) == 0xEF && static_cast<uint8_t>(text[1]) == 0xBB &&
      static_cast<uint8_t>(text[2]) == 0xBF)
    text.erase(0, 3);  // UTF-8 byte order mark (spreadsheet exports)
  return text;
}

// For the line-per-row formats: each line of the table at `path` that is not blank (a trailing
// '\r' removed), as keep_or_skip(read_row(line, number)).
template <typename ReadRow>
TableRead read_line_rows(const std::string& path, const ReadRow& read_row) {
  const std::string text = read_text(path);
  TableRead out;
  std::istringstream in(text);
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (std::all_of(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c); })) continue;
    keep_or_skip(path, out, [&] { return read_row(line, number); });
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string first_line(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return out;
}

bool blank(const std::vector<std::string>& fields) {
  return fields.size() == 1 && std::all_of(fields[0].begin(), fields[0].end(), [](unsigned char c) { return std::isspace(c); });
}

// The column index for `wanted`, or for `alternative` when `wanted` is the default and absent.
int find_column(const std::vector<std::string>& header, const std::string& wanted, const std::string& alternative) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == wanted) return static_cast<int>(i);
  for (size_t i = 0; i < header.size(); ++i)
    if (!alternative.empty() && header[i] == alternative) return static_cast<int>(i);
  return -1;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

TableRead rows_from_records(const std::string& path, const std::vector<CsvRecord>& records, const TableColumns& columns) {
  if (records.empty()) throw FileError(path, "the table is empty (expected a header line)");
  const auto& header = records[0].fields;
  const int image = find_column(header, columns.image, columns.image == "image" ? "url" : columns.image == "url" ? "image" : "");
  const int caption = find_column(header, columns.caption, columns.caption == "caption" ? "captions" : "");
  const int split = find_column(header, "split", "");
  if (image < 0)
    throw FileError(path, str("line 1: no image column '", columns.image, "' (columns: ", join(header), ")"),
                    "name it with " + columns.image_flag);
  if (caption < 0)
    throw FileError(path, str("line 1: no caption column '", columns.caption, "' (columns: ", join(header), ")"),
                    "name it with " + columns.caption_flag);
  TableRead out;
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    if (blank(rec.fields)) continue;
    keep_or_skip(path, out, [&]() -> std::optional<TableRow> {
      if (rec.fields.size() != header.size())
        throw RowError{rec.line, str("expected ", header.size(), " fields, found ", rec.fields.size())};
      TableRow row;
      row.line = rec.line;
      row.image = rec.fields[image];
      row.captions.push_back(rec.fields[caption]);
      if (split >= 0) row.split = rec.fields[split];
      check_row(row, header[image]);
      return row;
    });
  }
  return out;
}

std::vector<QA> parse_qa(const nlohmann::json& j, int64_t line) {
  std::vector<QA> out;
  if (j.is_null()) return out;
  if (!j.is_array()) throw RowError{line, "'qa' must be a list of {question, answer}"};
  for (const auto& item : j) {
    if (!item.is_object() || !item.contains("question") || !item.contains("answer") || !item["question"].is_string() ||
        !item["answer"].is_string())
      throw RowError{line, "each 'qa' item needs string 'question' and 'answer'"};
    out.push_back({item["question"].get<std::string>(), item["answer"].get<std::string>()});
  }
  return out;
}

TableRead read_jsonl(const std::string& path, const TableColumns& columns) {
  return read_line_rows(path, [&](const std::string& line, int64_t number) -> std::optional<TableRow> {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 2E999
      throw RowError{number, str("not valid JSON (", e.what(), ")")};
    }
    if (!j.is_object()) throw RowError{number, "expected a JSON object"};
    TableRow row;
    row.line = number;
    std::string image_key = columns.image;
    if (!j.contains(image_key) && columns.image == "image") image_key = "url";
    if (!j.contains(image_key) && columns.image == "url") image_key = "image";
    if (!j.contains(image_key) || !j[image_key].is_string() || j[image_key].get<std::string>().empty())
      throw RowError{number, str("no string field '", columns.image, "' with the image (name it with ",
                                 columns.image_flag, ")")};
    row.image = j[image_key].get<std::string>();
    for (const std::string& key : {columns.caption, std::string("captions")}) {
      if (!j.contains(key)) continue;
      const auto& c = j[key];
      if (c.is_string()) {
        row.captions.push_back(c.get<std::string>());
      } else if (c.is_array()) {
        for (const auto& item : c) {
          if (!item.is_string()) throw RowError{number, str("'", key, "' holds a non-string")};
          row.captions.push_back(item.get<std::string>());
        }
      } else {
        throw RowError{number, str("'", key, "' must be a string or a list of strings")};
      }
      break;
    }
    if (j.contains(columns.qa)) row.qa = parse_qa(j[columns.qa], number);
    if (row.captions.empty() && row.qa.empty())
      throw RowError{number, str("no caption field '", columns.caption, "' (nor 'captions', nor 'qa'; name it with ",
                                 columns.caption_flag, ")")};
    if (j.contains("split") && j["split"].is_string()) row.split = j["split"].get<std::string>();
    check_row(row, image_key);
    return row;
  });
}

// Header-less two-column TSVs: Conceptual Captions (caption, url) and captions.txt (file, caption).
TableRead read_two_column(const std::string& path, bool image_second) {
  return read_line_rows(path, [&](const std::string& line, int64_t number) -> std::optional<TableRow> {
    const auto fields = split_tabs(line);
    if (fields.size() != 2)
      throw RowError{number, str("expected 2 tab-separated fields (", image_second ? "caption, url" : "filename, caption",
                                 "), found ", fields.size())};
    TableRow row;
    row.line = number;
    row.image = image_second ? fields[1] : fields[0];
    row.captions.push_back(image_second ? fields[0] : fields[1]);
    check_row(row, image_second ? "url" : "filename");
    return row;
  });
}

}  // namespace

bool is_url(const std::string& s) {
  const std::string head = lower(s.substr(0, 8));
  return head.rfind("http://", 0) == 0 || head.rfind("https://", 0) == 0;
}

std::string table_kind(const std::string& path) {
  const std::string name = lower(std::filesystem::path(path).filename().string());
  const std::string ext = lower(std::filesystem::path(path).extension().string());
  if (ext == ".jsonl" || ext == ".ndjson") return "jsonl";
  if (ext == ".csv") return "csv";
  if (ext == ".tsv" || ext == ".txt") {
    const auto fields = split_tabs(first_line(path));
    if (fields.size() == 2 && is_url(fields[1]) && !is_url(fields[0])) return "cc_tsv";
    if (ext == ".txt") return "captions_txt";
    return "tsv";
  }
  throw FileError(path, "not a caption table (expected .csv, .tsv, .jsonl or captions.txt)");
}

std::vector<CsvRecord> parse_delimited(const std::string& text, char delimiter, bool quoting, const std::string& origin) {
  std::vector<CsvRecord> records;
  CsvRecord current{1, {}};
  std::string field;
  int64_t line = 1;
  bool in_quotes = false, quoted_field = false;
  int64_t quote_line = 0;
  const size_t n = text.size();
  for (size_t i = 0; i < n; ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < n && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (quoting && c == '"') {
      if (!field.empty() || quoted_field)
        throw FileError(origin, str("line ", line, ": a quote inside an unquoted field (quote the whole field and double inner quotes)"));
      in_quotes = quoted_field = true;
      quote_line = line;
    } else if (c == delimiter) {
      current.fields.push_back(std::move(field));
      field.clear();
      quoted_field = false;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < n && text[i + 1] == '\n') ++i;
      current.fields.push_back(std::move(field));
      field.clear();
      quoted_field = false;
      records.push_back(std::move(current));
      ++line;
      current = CsvRecord{line, {}};
    } else {
      if (quoted_field) throw FileError(origin, str("line ", line, ": text after a closing quote"));
      field += c;
    }
  }
  if (in_quotes) throw FileError(origin, str("line ", quote_line, ": unterminated quoted field"));
  if (!field.empty() || quoted_field || !current.fields.empty()) {
    current.fields.push_back(std::move(field));
    records.push_back(std::move(current));
  }
  return records;
}

TableRead read_table_rows(const std::string& path, const TableColumns& columns, const std::string& kind_in) {
  if (!std::filesystem::is_regular_file(path)) throw FileError(path, "no such table file");
  const std::string kind = kind_in == "auto" ? table_kind(path) : kind_in;
  if (kind == "jsonl") return read_jsonl(path, columns);
  if (kind == "cc_tsv") return read_two_column(path, /*image_second=*/true);
  if (kind == "captions_txt") return read_two_column(path, /*image_second=*/false);
  if (kind == "csv") return rows_from_records(path, parse_delimited(read_text(path), ',', true, path), columns);
  if (kind == "tsv") return rows_from_records(path, parse_delimited(read_text(path), '\t', false, path), columns);
  throw FileError(path, str("unknown table kind '", kind, "'"));
}

std::vector<TableRow> read_table(const std::string& path, const TableColumns& columns, const std::string& kind) {
  TableRead read = read_table_rows(path, columns, kind);
  if (!read.skipped.empty()) throw FileError(path, read.skipped.front().substr(path.size() + 2));
  return std::move(read.rows);
}

}  // namespace vlm::data
