// safetensors reading and writing (https://github.com/huggingface/safetensors format:
// u64 little-endian header length, a JSON header, then the raw tensor bytes).
// The file is untrusted input: every field is validated before any byte is read.
// Hand-written because no Debian package parses safetensors; nlohmann::json reads the header.
// This header does not include torch: see io/tensor_store.h for the LibTorch bridge.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace vlm::io {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

const char* dtype_name(DType dtype);          // "F32"
DType dtype_from_name(const std::string& name);  // throws vlm::Error on an unknown name
size_t dtype_size(DType dtype);               // bytes per element

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // offsets relative to the start of the data section
  uint64_t end = 0;
  int64_t numel() const;
};

// A read-only memory-mapped, fully validated safetensors file.
class SafetensorsFile {
 public:
  // Opens, maps and validates; throws vlm::FileError naming the file and the problem.
  static std::shared_ptr<const SafetensorsFile> open(const std::string& path);
  // Validates an in-memory buffer (used by the fuzzer and tests); `name` appears in errors.
  static std::shared_ptr<const SafetensorsFile> from_buffer(std::vector<uint8_t> buffer,
                                                            const std::string& name);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in file order
  const TensorInfo* find(const std::string& name) const;               // nullptr if absent
  const TensorInfo& at(const std::string& name) const;                 // throws FileError if absent
  std::span<const uint8_t> bytes(const TensorInfo& info) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  void parse();

  std::string path_;
  const uint8_t* data_ = nullptr;  // whole file
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> owned_;     // when built from a buffer
  uint64_t data_offset_ = 0;       // 8 + header length
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: raw little-endian bytes with dtype and shape.
struct TensorBytes {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> data;
};

// Writes a safetensors file atomically (temp file, fsync, rename). Tensors are stored in
// the given order; names must be unique and byte counts must match dtype x shape.
void write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace vlm::io
