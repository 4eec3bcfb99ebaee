// Tar member index for random access into webdataset shards: each member's name, data offset and
// size, read once from the headers (ustar, GNU long names, pax path/size records). libarchive
// streams members but cannot report where a member's data sits in the file, which random
// access needs; shards are written with libarchive (TarWriter) and read back by this index.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct archive;  // libarchive

namespace vlm::data {

struct TarMember {
  std::string name;
  int64_t offset = 0;  // of the data, from the start of the file
  int64_t size = 0;
};

struct TarIndex {
  std::vector<TarMember> members;  // regular files only, in archive order
  std::string problem;             // non-empty when indexing stopped early (truncated, bad header)
};

// Throws FileError when the file cannot be opened; a damaged shard is indexed up to the damage.
TarIndex index_tar(const std::string& path);

// Writes a tar (pax restricted, as webdataset and img2dataset do) member by member via libarchive.
class TarWriter {
 public:
  explicit TarWriter(const std::string& path);  // throws FileError
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;
  void add(const std::string& name, std::span<const uint8_t> data);
  void add(const std::string& name, const std::string& text);
  void close();  // flushes; throws FileError

 private:
  std::string path_;
  ::archive* archive_ = nullptr;
};

}  // namespace vlm::data
