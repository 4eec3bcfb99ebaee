// safetensors parsing (mmap, every header field validated as the reference Rust library does:
// exact dtype/shape/offset agreement, offsets tiling the data section, no duplicates or unknown
// fields) and atomic writing with the header padded to 8 bytes. No Debian package reads
// safetensors; nlohmann::json parses the header.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "io/atomic_file.h"

namespace vlm::io {
namespace {

// The reference library refuses headers above 100 MB; so do we, before allocating anything.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DTypeEntry {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::kF64, "F64", 8}, {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2},  {DType::kBF16, "BF16", 2},
    {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4}, {DType::kI16, "I16", 2},  {DType::kI8, "I8", 1},
    {DType::kU8, "U8", 1},   {DType::kBool, "BOOL", 1},
};

}  // namespace

const char* dtype_name(DType dtype) {
  for (const auto& e : kDTypes)
    if (e.dtype == dtype) return e.name;
  return "?";
}

DType dtype_from_name(const std::string& name) {
  for (const auto& e : kDTypes)
    if (name == e.name) return e.dtype;
  throw Error("unsupported dtype '" + name + "'", "supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL");
}

size_t dtype_size(DType dtype) {
  for (const auto& e : kDTypes)
    if (e.dtype == dtype) return e.size;
  return 0;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return n;
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto file = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw FileError(path, std::string("cannot stat: ") + std::strerror(errno));
  }
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void* map = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      ::close(fd);
      throw FileError(path, std::string("cannot map: ") + std::strerror(errno));
    }
    file->data_ = static_cast<const uint8_t*>(map);
    file->mapped_ = true;
  }
  ::close(fd);
  file->parse();
  return file;
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::from_buffer(std::vector<uint8_t> buffer,
                                                                    const std::string& name) {
  auto file = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = name;
  file->owned_ = std::move(buffer);
  file->data_ = file->owned_.data();
  file->size_ = file->owned_.size();
  file->parse();
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void SafetensorsFile::parse() {
  auto fail = [&](const std::string& what) { throw FileError(path_, what, "is this a .safetensors file?"); };
  if (size_ < 8) fail(str("too short for a safetensors header length (", size_, " bytes)"));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data_[i];  // little-endian
  if (header_len > kMaxHeaderBytes) fail(str("header length ", header_len, " exceeds the 100 MB limit"));
  if (header_len > size_ - 8) {
    fail(str("header length ", header_len, " runs past the end of the file (", size_, " bytes)"));
  }
  data_offset_ = 8 + header_len;
  nlohmann::json header;
  // nlohmann keeps one value per key, so a repeated name would vanish silently: the parser
  // callback keeps the keys seen in every open object and records the first repeat.
  std::vector<std::set<std::string>> open_objects;
  std::string tensor;  // the top-level key being parsed
  std::string duplicate;
  const nlohmann::json::parser_callback_t on_event = [&](int, nlohmann::json::parse_event_t event,
                                                         nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) {
      open_objects.emplace_back();
    } else if (event == Event::object_end) {
      open_objects.pop_back();
    } else if (event == Event::key && !open_objects.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (open_objects.size() == 1) tensor = key;
      if (!open_objects.back().insert(key).second && duplicate.empty()) {
        duplicate = open_objects.size() == 1 ? "tensor '" + key + "' appears twice in the header"
                                             : "entry '" + tensor + "' has the key '" + key + "' twice";
      }
    }
    return true;
  };
  try {
    header = nlohmann::json::parse(data_ + 8, data_ + 8 + header_len, on_event);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) fail(duplicate);
  if (!header.is_object()) fail("header is not a JSON object");
  const uint64_t data_size = size_ - data_offset_;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("__metadata__ is not an object of strings");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) fail("__metadata__ value for '" + m.key() + "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!entry.is_object()) fail(where + "entry is not an object");
    for (auto f = entry.begin(); f != entry.end(); ++f) {
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets") {
        fail(where + "unknown field '" + f.key() + "'");
      }
    }
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) fail(where + "dtype missing or not a string");
    if (!entry.contains("shape") || !entry["shape"].is_array()) fail(where + "shape missing or not a list");
    if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2) {
      fail(where + "data_offsets must be a list of two integers");
    }
    TensorInfo info;
    info.name = name;
    try {
      info.dtype = dtype_from_name(entry["dtype"].get<std::string>());
    } catch (const Error&) {
      fail(where + "unsupported dtype '" + entry["dtype"].get<std::string>() + "'");
    }
    uint64_t numel = 1;
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) fail(where + "shape " + entry["shape"].dump() + " is invalid");
      const auto dim = d.get<uint64_t>();
      if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / dim) fail(where + "shape overflows");
      numel *= dim;
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    for (const auto& o : entry["data_offsets"]) {
      if (!o.is_number_integer() || o.get<int64_t>() < 0) fail(where + "data_offsets are not non-negative integers");
    }
    info.begin = entry["data_offsets"][0].get<uint64_t>();
    info.end = entry["data_offsets"][1].get<uint64_t>();
    if (info.begin > info.end) fail(where + str("data_offsets [", info.begin, ", ", info.end, "] are reversed"));
    if (info.end > data_size) {
      fail(where + str("data_offsets [", info.begin, ", ", info.end, "] run past the data section (", data_size,
                       " bytes)"));
    }
    const uint64_t expected = numel * dtype_size(info.dtype);
    if (info.end - info.begin != expected) {
      fail(where + str(info.end - info.begin, " bytes for shape ", entry["shape"].dump(), " of ",
                       dtype_name(info.dtype), ", expected ", expected));
    }
    tensors_.push_back(std::move(info));
  }
  // Offsets must tile the data section exactly: sorted, no overlap, no gap, nothing left over.
  std::vector<const TensorInfo*> sorted;
  for (const auto& t : tensors_) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t cursor = 0;
  for (const TensorInfo* t : sorted) {
    if (t->begin < cursor) fail("tensor '" + t->name + "' overlaps the previous tensor's bytes");
    if (t->begin > cursor) fail(str("bytes [", cursor, ", ", t->begin, ") of the data section belong to no tensor"));
    cursor = t->end;
  }
  if (cursor != data_size) fail(str("bytes [", cursor, ", ", data_size, ") at the end belong to no tensor"));
  // Keep the header's order (nlohmann sorts keys): order by offset, which writers follow.
  std::sort(tensors_.begin(), tensors_.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.begin != b.begin ? a.begin < b.begin : a.name < b.name; });
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafetensorsFile::at(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (info == nullptr) throw FileError(path_, "has no tensor '" + name + "'");
  return *info;
}

std::span<const uint8_t> SafetensorsFile::bytes(const TensorInfo& info) const {
  return {data_ + data_offset_ + info.begin, static_cast<size_t>(info.end - info.begin)};
}

void write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (header.contains(t.name) || t.name == "__metadata__") throw FileError(path, "duplicate tensor name '" + t.name + "'");
    uint64_t numel = 1;
    for (const int64_t d : t.shape) {
      if (d < 0) throw FileError(path, "tensor '" + t.name + "' has a negative dimension");
      numel *= static_cast<uint64_t>(d);
    }
    if (numel * dtype_size(t.dtype) != t.data.size()) {
      throw FileError(path, str("tensor '", t.name, "': ", t.data.size(), " bytes given for ",
                                numel * dtype_size(t.dtype), " expected"));
    }
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // align the data section to 8 bytes, as the reference writer
  std::string out;
  out.reserve(8 + json.size() + offset);
  uint64_t len = json.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += json;
  for (const auto& t : tensors) out.append(reinterpret_cast<const char*>(t.data.data()), t.data.size());
  write_file_atomic(path, out);
}

}  // namespace vlm::io
