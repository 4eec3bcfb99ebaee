// The batches the training tasks read, and where they come from: the data loader over the
// configured dataset (train and validation splits by a stable hash of each sample's key).
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/loader.h"
#include "models/vit.h"

namespace vlm::train {

class FeatureCache;  // train/feature_cache.h
class Distributed;   // train/distributed.h

struct QAPair {
  std::string question;
  std::string answer;
};

struct ImageTextBatch {
  at::Tensor pixel_values;                 // (B, 3, H, W) float32; undefined when `features` is set
  at::Tensor features;                     // (B, 1 + P, D) cached ViT features (host), else undefined
  std::vector<std::string> keys;
  std::vector<std::string> captions;       // one per sample
  std::vector<std::vector<QAPair>> qa;     // question-answer pairs per sample (may be empty)
  int64_t size() const { return static_cast<int64_t>(captions.size()); }
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual ImageTextBatch next() = 0;       // endless for training (epochs roll over)
  virtual nlohmann::json state() const = 0;
  virtual void restore(const nlohmann::json& state) = 0;
  virtual void rewind() = 0;               // back to the first batch (fixed validation batches)
  virtual int64_t samples() const = 0;     // samples in this split (this rank)
};

enum class Split { kTrain, kValidation, kAll };

// Seconds spent so far, by every thread, blocked in next() of training-split sources: the time
// steps wait for the loader's workers (the trainer logs its share of step time).
double data_wait_seconds();

// A host tensor moved to `device`. On a GPU the copy goes through pinned (page-locked) memory
// and is asynchronous, so the host queues the step's kernels while it runs.
at::Tensor to_device(const at::Tensor& host, const c10::Device& device);

// The loader over config.data for one split; rank/world shard the training split. With
// `features`, images are not decoded: batches carry the cached ViT features of their samples
// instead (read ahead by the loader's workers) and skip the samples decoding skipped.
std::unique_ptr<BatchSource> make_batch_source(const config::RunConfig& config, Split split, int64_t batch_size,
                                               int rank, int world_size, int64_t image_size,
                                               const FeatureCache* features = nullptr);

// A training task's data: the frozen ViT's feature cache when vision.feature_cache names one
// (built on first use), the training split sharded over the ranks, and the validation split
// (every rank reads all of it). Members in this order, so the cache outlives the sources reading it.
struct TaskData {
  std::unique_ptr<FeatureCache> features;
  std::unique_ptr<BatchSource> train, val;
  // The fixed validation batches: rewinds, then fn(batch, index) for at most max_batches batches,
  // stopping where batches of batch_size would pass the split's end. Returns how many it read.
  int64_t for_each_validation_batch(int64_t max_batches, int64_t batch_size,
                                    const std::function<void(const ImageTextBatch&, int64_t)>& fn);
  TaskData();
  TaskData(TaskData&&) noexcept;
  TaskData& operator=(TaskData&&) noexcept;
  ~TaskData();
};
// Logs "<stage>: N training samples, M validation samples".
TaskData open_task_data(const config::RunConfig& config, models::ViTModel& vision, const c10::Device& device,
                        Distributed* dist, const char* stage);

// The dataset config.data names, and the loader options make_batch_source reads a split with
// (the feature cache reads every sample with the same decoding and preprocessing).
std::shared_ptr<const data::Dataset> open_configured_dataset(const config::RunConfig& config);
// Every caption of the training split (all ranks' shards), in dataset order.
std::vector<std::string> training_captions(const config::RunConfig& config);
data::LoaderOptions loader_options(const config::RunConfig& config, Split split, int64_t batch_size, int rank,
                                   int world_size, int64_t image_size);

}  // namespace vlm::train
