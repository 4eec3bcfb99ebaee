// The LibTorch side of model files: safetensors tensors as at::Tensor (zero-copy where the
// dtype allows: the tensor keeps the mapping alive), whole HF folders with sharded
// checkpoints (model.safetensors.index.json), and saving named tensors.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace vlm::io {

// A zero-copy view of a tensor in a mapped file (read-only: clone before writing into it).
at::Tensor tensor_from_file(const std::shared_ptr<const SafetensorsFile>& file, const TensorInfo& info);

// Every tensor of a model: one .safetensors file, a folder with model.safetensors, or a
// folder with model.safetensors.index.json and its shards.
class TensorStore {
 public:
  static TensorStore open(const std::string& path);  // file or folder; throws FileError

  std::vector<std::string> names() const;            // sorted
  bool contains(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;
  at::Tensor get(const std::string& name) const;     // zero-copy view; throws FileError if absent
  std::string file_of(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::map<std::string, std::shared_ptr<const SafetensorsFile>> by_name_;
  std::map<std::string, std::string> metadata_;
};

// Saves contiguous CPU copies of the tensors, atomically, in the given order.
void save_tensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata = {});

}  // namespace vlm::io
