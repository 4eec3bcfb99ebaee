// safetensors <-> at::Tensor: zero-copy views whose deleter keeps the mapping alive, HF model
// folders (model.safetensors or a sharded index.json, checked both ways), and saving named tensors.
// LibTorch's own serialization is a zip/pickle format HF folders do not use, hence this bridge.
#include "io/tensor_store.h"

#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/atomic_file.h"

namespace fs = std::filesystem;

namespace vlm::io {
namespace {

at::ScalarType scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kF64: return at::kDouble;
    case DType::kF32: return at::kFloat;
    case DType::kF16: return at::kHalf;
    case DType::kBF16: return at::kBFloat16;
    case DType::kI64: return at::kLong;
    case DType::kI32: return at::kInt;
    case DType::kI16: return at::kShort;
    case DType::kI8: return at::kChar;
    case DType::kU8: return at::kByte;
    case DType::kBool: return at::kBool;
  }
  return at::kFloat;
}

DType dtype_of(at::ScalarType type, const std::string& path, const std::string& name) {
  switch (type) {
    case at::kDouble: return DType::kF64;
    case at::kFloat: return DType::kF32;
    case at::kHalf: return DType::kF16;
    case at::kBFloat16: return DType::kBF16;
    case at::kLong: return DType::kI64;
    case at::kInt: return DType::kI32;
    case at::kShort: return DType::kI16;
    case at::kChar: return DType::kI8;
    case at::kByte: return DType::kU8;
    case at::kBool: return DType::kBool;
    default: throw FileError(path, "tensor '" + name + "' has a dtype safetensors cannot store");
  }
}

}  // namespace

at::Tensor tensor_from_file(const std::shared_ptr<const SafetensorsFile>& file, const TensorInfo& info) {
  const auto bytes = file->bytes(info);
  const auto type = scalar_type(info.dtype);
  if (info.numel() == 0) return torch::empty(info.shape, torch::TensorOptions().dtype(type));
  if (info.dtype == DType::kBool) {  // a bool byte other than 0 or 1 is undefined behaviour in LibTorch
    for (size_t i = 0; i < bytes.size(); ++i) {
      if (bytes[i] > 1) {
        throw FileError(file->path(), str("tensor '", info.name, "': BOOL element ", i, " holds byte ",
                                          static_cast<int>(bytes[i]), ", not 0 or 1"));
      }
    }
  }
  // The mapping is page-aligned and the data section starts at 8 + header (8-aligned by every
  // writer we know of); an unaligned tensor is copied rather than viewed.
  if (reinterpret_cast<uintptr_t>(bytes.data()) % dtype_size(info.dtype) != 0) {
    auto out = torch::empty(info.shape, torch::TensorOptions().dtype(type));
    std::memcpy(out.data_ptr(), bytes.data(), bytes.size());
    return out;
  }
  auto keep_alive = new std::shared_ptr<const SafetensorsFile>(file);
  return torch::from_blob(const_cast<uint8_t*>(bytes.data()), info.shape,
                          [keep_alive](void*) { delete keep_alive; }, torch::TensorOptions().dtype(type));
}

TensorStore TensorStore::open(const std::string& path) {
  TensorStore store;
  store.path_ = path;
  std::vector<std::string> files;
  if (fs::is_regular_file(path)) {
    files.push_back(path);
  } else if (fs::is_directory(path)) {
    const std::string index = path + "/model.safetensors.index.json";
    if (fs::exists(index)) {
      nlohmann::json doc;
      try {
        doc = nlohmann::json::parse(read_file(index));
      } catch (const nlohmann::json::exception& e) {
        throw FileError(index, std::string("not valid JSON: ") + e.what());
      }
      if (!doc.contains("weight_map") || !doc["weight_map"].is_object()) throw FileError(index, "has no weight_map object");
      std::map<std::string, std::string> wanted;  // tensor -> shard
      for (auto it = doc["weight_map"].begin(); it != doc["weight_map"].end(); ++it) {
        if (!it.value().is_string()) throw FileError(index, "weight_map value for '" + it.key() + "' is not a file name");
        const std::string shard = it.value().get<std::string>();
        if (shard.find('/') != std::string::npos) throw FileError(index, "shard name '" + shard + "' is not a plain file name");
        wanted[it.key()] = shard;
      }
      std::map<std::string, std::shared_ptr<const SafetensorsFile>> shards;
      for (const auto& [name, shard] : wanted) {
        if (!shards.count(shard)) {
          const std::string shard_path = path + "/" + shard;
          if (!fs::exists(shard_path)) throw FileError(index, "lists shard " + shard + ", which does not exist");
          shards[shard] = SafetensorsFile::open(shard_path);
        }
        if (shards[shard]->find(name) == nullptr) {
          throw FileError(index, "says tensor '" + name + "' is in " + shard + ", but it is not there");
        }
      }
      for (const auto& [shard, file] : shards) {
        for (const auto& info : file->tensors()) {
          if (!wanted.count(info.name)) throw FileError(file->path(), "tensor '" + info.name + "' is not in the index");
          if (wanted.at(info.name) != shard) {
            throw FileError(index, "tensor '" + info.name + "' appears in " + shard + " and " + wanted.at(info.name));
          }
          store.by_name_[info.name] = file;
        }
        for (const auto& [k, v] : file->metadata()) store.metadata_[k] = v;
      }
      return store;
    }
    if (fs::exists(path + "/model.safetensors")) {
      files.push_back(path + "/model.safetensors");
    } else {
      throw FileError(path, "has no model.safetensors or model.safetensors.index.json");
    }
  } else {
    throw FileError(path, "no such file or folder");
  }
  for (const auto& f : files) {
    auto file = SafetensorsFile::open(f);
    for (const auto& info : file->tensors()) store.by_name_[info.name] = file;
    for (const auto& [k, v] : file->metadata()) store.metadata_[k] = v;
  }
  return store;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  for (const auto& [name, file] : by_name_) out.push_back(name);
  return out;
}

bool TensorStore::contains(const std::string& name) const { return by_name_.count(name) > 0; }

const TensorInfo& TensorStore::info(const std::string& name) const {
  const auto it = by_name_.find(name);
  if (it == by_name_.end()) throw FileError(path_, "has no tensor '" + name + "'");
  return it->second->at(name);
}

at::Tensor TensorStore::get(const std::string& name) const {
  const auto it = by_name_.find(name);
  if (it == by_name_.end()) throw FileError(path_, "has no tensor '" + name + "'");
  return tensor_from_file(it->second, it->second->at(name));
}

std::string TensorStore::file_of(const std::string& name) const {
  const auto it = by_name_.find(name);
  if (it == by_name_.end()) throw FileError(path_, "has no tensor '" + name + "'");
  return it->second->path();
}

void save_tensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> keep;  // contiguous CPU copies outlive the TensorBytes views
  std::vector<TensorBytes> views;
  keep.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined()) throw FileError(path, "tensor '" + name + "' is undefined");
    keep.push_back(tensor.detach().to(torch::kCPU).contiguous());
    const at::Tensor& t = keep.back();
    views.push_back(TensorBytes{name, dtype_of(t.scalar_type(), path, name),
                                std::vector<int64_t>(t.sizes().begin(), t.sizes().end()),
                                {static_cast<const uint8_t*>(t.data_ptr()), static_cast<size_t>(t.nbytes())}});
  }
  write_safetensors(path, views, metadata);
}

}  // namespace vlm::io
