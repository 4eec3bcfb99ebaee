// The search index of `vlm serve` (see search_index.h).
// Shape letters: N images, Q queries, E embedding width.
#include "serve/search_index.h"

#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <iomanip>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "data/sources.h"
#include "io/tensor_store.h"
#include "serve/model_host.h"

namespace fs = std::filesystem;

namespace vlm::serve {
namespace {

std::string hex_hash(const std::string& s) {
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << std::hash<std::string>{}(s);
  return out.str();
}

}  // namespace

SearchIndex::SearchIndex(ModelHost& host, const std::string& path, const std::string& cache_dir,
                         const std::string& model_id)
    : dataset_path_(path) {
  data::DataSpec spec;
  spec.path = path;
  const auto dataset = data::open_dataset(spec);
  if (dataset->size() == 0) throw FileError(path, "holds no images to index", "pass a folder of images or a dataset");
  std::string signature = model_id + "\n" + fs::absolute(path).string() + "\n";
  for (const auto& s : dataset->samples) {
    entries_.push_back({s.key, s.captions.empty() ? std::string() : s.captions.front(), s.path});
    signature += s.key + "\t" + entries_.back().caption + "\t" + std::to_string(s.size) + "\n";
    if (!s.member.empty() || !s.url.empty()) {
      throw FileError(path, "sample " + s.key + " is not a plain image file", "index a folder or a table of image files");
    }
    if (fs::exists(s.path)) signature += std::to_string(fs::file_size(s.path)) + "\n";
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!entries_[i].caption.empty()) text_entry_.push_back(static_cast<int64_t>(i));
  }
  const std::string cache = cache_dir + "/index-" + hex_hash(signature) + ".safetensors";
  if (fs::exists(cache)) {
    const auto store = io::TensorStore::open(cache);
    image_queries_ = store.get("image_queries").clone();
    text_embeds_ = store.get("text_embeds").clone();
    from_cache_ = true;
    log::info("search index: ", entries_.size(), " images from the cache ", cache);
    return;
  }
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  constexpr size_t kBatch = 32;
  for (size_t start = 0; start < entries_.size(); start += kBatch) {
    std::vector<data::Image> images;
    for (size_t i = start; i < std::min(entries_.size(), start + kBatch); ++i) {
      images.push_back(data::decode_image_file(entries_[i].path));
    }
    parts.push_back(host.embed_image_queries(images));  // (b, Q, E)
  }
  image_queries_ = torch::cat(parts);  // (N, Q, E)
  std::vector<std::string> captions;
  for (int64_t i : text_entry_) captions.push_back(entries_[static_cast<size_t>(i)].caption);
  text_embeds_ = captions.empty() ? torch::zeros({0, image_queries_.size(2)}) : host.embed_texts(captions);  // (Nt, E)
  fs::create_directories(cache_dir);
  io::save_tensors(cache, {{"image_queries", image_queries_}, {"text_embeds", text_embeds_}},
                   {{"dataset", fs::absolute(path).string()}, {"model", model_id}});
  log::info("search index: ", entries_.size(), " images embedded, cached in ", cache);
}

std::vector<uint8_t> SearchIndex::image_bytes(int64_t index) const {
  return data::read_file_bytes(entries_.at(static_cast<size_t>(index)).path);
}

}  // namespace vlm::serve
