// The --index of `vlm serve`: every image of a folder or dataset embedded once by the stage-1
// model (query embeddings, as retrieval scores them) with its captions' text embeddings, cached on
// disk as safetensors keyed by the model, the dataset and its contents, so a restart loads instead
// of recomputing (as train/feature_cache does for stage 2).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vlm::serve {

class ModelHost;

struct IndexEntry {
  std::string key;      // the dataset's sample key, e.g. "00012.png"
  std::string caption;  // its first caption (may be empty for a plain image folder)
  std::string path;     // where the image bytes are (for GET /v1/index/images/N)
};

class SearchIndex {
 public:
  // Embeds (or loads from `cache_dir`) the dataset at `path`; `model_id` keys the cache.
  SearchIndex(ModelHost& host, const std::string& path, const std::string& cache_dir, const std::string& model_id);
  int64_t size() const { return static_cast<int64_t>(entries_.size()); }
  const std::vector<IndexEntry>& entries() const { return entries_; }
  const at::Tensor& image_queries() const { return image_queries_; }  // (N, Q, E)
  const at::Tensor& text_embeds() const { return text_embeds_; }      // (Nt, E), one per entry with a caption
  const std::vector<int64_t>& text_entry() const { return text_entry_; }  // text row -> entry
  std::vector<uint8_t> image_bytes(int64_t index) const;
  bool loaded_from_cache() const { return from_cache_; }

 private:
  std::string dataset_path_;
  std::vector<IndexEntry> entries_;
  std::vector<int64_t> text_entry_;
  at::Tensor image_queries_, text_embeds_;
  bool from_cache_ = false;
};

}  // namespace vlm::serve
