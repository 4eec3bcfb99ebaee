// Tar header indexing (POSIX ustar, GNU 'L' long names, pax 'x' records) and libarchive-backed
// writing. The reader only records offsets; see tar.h for why libarchive is not used to read.
#include "data/tar.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"

namespace vlm::data {
namespace {

constexpr int64_t kBlock = 512;

// Octal (NUL/space padded) or GNU base-256 numbers; -1 when malformed.
int64_t parse_number(const char* field, size_t length) {
  const auto* u = reinterpret_cast<const uint8_t*>(field);
  if (u[0] & 0x80) {
    int64_t value = u[0] & 0x3F;
    for (size_t i = 1; i < length; ++i) {
      if (value > (int64_t{1} << 54)) return -1;
      value = (value << 8) | u[i];
    }
    return value;
  }
  int64_t value = 0;
  size_t i = 0;
  while (i < length && field[i] == ' ') ++i;
  bool any = false;
  for (; i < length && field[i] >= '0' && field[i] <= '7'; ++i) {
    value = value * 8 + (field[i] - '0');
    any = true;
    if (value > (int64_t{1} << 56)) return -1;
  }
  for (; i < length; ++i)
    if (field[i] != ' ' && field[i] != '\0') return -1;
  return any ? value : 0;
}

std::string field_string(const char* field, size_t length) { return std::string(field, strnlen(field, length)); }

bool checksum_ok(const std::array<char, kBlock>& h) {
  const int64_t stored = parse_number(h.data() + 148, 8);
  int64_t sum = 0;
  for (int64_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<uint8_t>(h[i]);
  return stored == sum;
}

// A pax decimal: digits only, no sign, below 2^63; -1 otherwise.
int64_t parse_decimal(const std::string& text) {
  if (text.empty() || text.size() > 19) return -1;
  int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return -1;
    if (value > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

// Applies "LEN key=value\n" pax records to the next member's name / size. Returns "" or what is
// wrong with the records (a size that is not a non-negative decimal, a malformed record).
std::string parse_pax(const std::string& data, std::string& name, int64_t& size) {
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t space = data.find(' ', pos);
    if (space == std::string::npos) return "pax record without a length";
    const int64_t len = parse_decimal(data.substr(pos, space - pos));
    if (len <= 0 || static_cast<uint64_t>(len) > data.size() - pos || space + 1 >= pos + static_cast<size_t>(len) ||
        data[pos + static_cast<size_t>(len) - 1] != '\n')
      return str("malformed pax record at offset ", pos, " of the extended header");
    const std::string record = data.substr(space + 1, pos + static_cast<size_t>(len) - space - 2);  // without "\n"
    const size_t eq = record.find('=');
    if (eq != std::string::npos) {
      const std::string key = record.substr(0, eq), value = record.substr(eq + 1);
      if (key == "path") name = value;
      if (key == "size") {
        size = parse_decimal(value);
        if (size < 0) return str("pax size '", value.substr(0, 40), "' is not a byte count");
      }
    }
    pos += static_cast<size_t>(len);
  }
  return {};
}

}  // namespace

TarIndex index_tar(const std::string& path) {
  std::error_code ec;
  // Checked before opening: opening a FIFO would block, a directory "opens" with a huge size.
  if (!std::filesystem::is_regular_file(path, ec)) throw FileError(path, "not a regular file (a tar shard expected)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open the tar shard");
  const auto file_size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  if (ec) throw FileError(path, "cannot read the size of the tar shard: " + ec.message());
  TarIndex index;
  std::string next_name;
  int64_t next_size = -1;
  int64_t pos = 0;
  std::array<char, kBlock> h{};
  for (;;) {
    if (pos + kBlock > file_size) {
      // Ending without the two zero blocks is tolerated (as Python's tarfile does); ending
      // inside a header is not.
      if (pos != file_size) index.problem = str("truncated at byte ", pos, " of ", file_size);
      break;
    }
    in.seekg(pos);
    in.read(h.data(), kBlock);
    if (in.gcount() != kBlock) {
      index.problem = str("read error at byte ", pos);
      break;
    }
    if (std::all_of(h.begin(), h.end(), [](char c) { return c == 0; })) break;  // end of archive
    if (!checksum_ok(h)) {
      index.problem = str("bad header checksum at byte ", pos);
      break;
    }
    int64_t size = parse_number(h.data() + 124, 12);
    if (size < 0) {
      index.problem = str("bad size field at byte ", pos);
      break;
    }
    const char type = h[156];
    std::string name = field_string(h.data(), 100);
    if (std::memcmp(h.data() + 257, "ustar", 5) == 0) {
      const std::string prefix = field_string(h.data() + 345, 155);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    const int64_t data_offset = pos + kBlock;
    // Every size is compared with what is left of the file (no sum can overflow: both terms are
    // then within the file), so the offsets below stay inside it.
    if (type == 'x' || type == 'L' || type == 'g') {
      if (size > file_size - data_offset || size > (int64_t{1} << 20)) {
        index.problem = str("truncated or oversized extended header at byte ", pos);
        break;
      }
      std::string data(static_cast<size_t>(size), '\0');
      in.seekg(data_offset);
      in.read(data.data(), size);
      if (type == 'L') next_name = field_string(data.data(), data.size());
      if (type == 'x') {
        if (const std::string bad = parse_pax(data, next_name, next_size); !bad.empty()) {
          index.problem = str(bad, " (extended header at byte ", pos, ")");
          break;
        }
      }
    } else {
      if (!next_name.empty()) name = next_name;
      if (next_size >= 0) size = next_size;
      next_name.clear();
      next_size = -1;
      if (type == '0' || type == '\0' || type == '7') {
        if (size > file_size - data_offset) {
          index.problem = str("member '", name, "' truncated (", size, " bytes declared, ", file_size - data_offset,
                              " present)");
          break;
        }
        index.members.push_back({name, data_offset, size});
      }
    }
    if (size > file_size - data_offset) {
      index.problem = str("entry '", name, "' at byte ", pos, " declares ", size, " bytes, past the end of the file");
      break;
    }
    pos = data_offset + (size + kBlock - 1) / kBlock * kBlock;
  }
  return index;
}

TarWriter::TarWriter(const std::string& path) : path_(path) {
  archive_ = archive_write_new();
  archive_write_set_format_pax_restricted(archive_);
  if (archive_write_open_filename(archive_, path.c_str()) != ARCHIVE_OK) {
    const std::string why = archive_error_string(archive_) ? archive_error_string(archive_) : "unknown error";
    archive_write_free(archive_);
    archive_ = nullptr;
    throw FileError(path, "cannot create the tar: " + why);
  }
}

TarWriter::~TarWriter() {
  if (archive_ != nullptr) archive_write_free(archive_);  // closes too
}

void TarWriter::add(const std::string& name, std::span<const uint8_t> data) {
  if (archive_ == nullptr) throw FileError(path_, "tar already closed");
  archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, name.c_str());
  archive_entry_set_size(entry, static_cast<la_int64_t>(data.size()));
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0644);
  archive_entry_set_mtime(entry, std::time(nullptr), 0);
  const bool ok = archive_write_header(archive_, entry) == ARCHIVE_OK &&
                  (data.empty() || archive_write_data(archive_, data.data(), data.size()) ==
                                       static_cast<la_ssize_t>(data.size()));
  archive_entry_free(entry);
  if (!ok) throw FileError(path_, str("cannot write member '", name, "': ", archive_error_string(archive_)));
}

void TarWriter::add(const std::string& name, const std::string& text) {
  add(name, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

void TarWriter::close() {
  if (archive_ == nullptr) return;
  const bool ok = archive_write_close(archive_) == ARCHIVE_OK;
  const std::string why = ok ? "" : (archive_error_string(archive_) ? archive_error_string(archive_) : "unknown");
  archive_write_free(archive_);
  archive_ = nullptr;
  if (!ok) throw FileError(path_, "cannot finish the tar: " + why);
}

}  // namespace vlm::data
