// The data loader: worker threads read, decode, augment and preprocess samples ahead of the
// trainer into a bounded window, and a reorder buffer hands them out in a deterministic order
// for (seed, epoch) whatever the number of workers. Resumable at (epoch, position), sharded over
// data-parallel ranks, and never stopped by a bad image (skipped and counted by reason).
// Threads rather than processes (DESIGN.md): torch's DataLoader has no C++ equivalent with these guarantees.
#pragma once

#include <ATen/core/Tensor.h>

#include <any>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "data/augment.h"
#include "data/preprocess.h"
#include "data/sources.h"

namespace vlm::data {

// Per-sample hook run on a worker thread after the caption is chosen (e.g. tokenization); its
// result travels with the sample into Batch::extras. Must be thread-safe.
using SampleTransform =
    std::function<std::any(const SampleRef& sample, const std::string& caption, int64_t epoch)>;

struct LoaderOptions {
  int64_t batch_size = 8;
  int workers = 2;                 // decoding threads; 0 = decode on the caller's thread
  int prefetch_batches = 4;        // how far ahead workers run (memory = this x batch x image)
  uint64_t seed = 0;
  bool shuffle = true;             // a new permutation of the samples every epoch
  bool drop_last = true;           // drop an epoch's last partial batch (training); false: emit it
  bool repeat = true;              // epochs roll over forever (training); false: one pass, then next() is empty
  // Data parallel: rank r of world_size takes positions r, r + w, r + 2w ... of the epoch's
  // permutation. Every rank gets the same count: the tail of N % w samples is dropped, unless
  // pad_ranks, which wraps around to the epoch's first samples instead (evaluation).
  int rank = 0;
  int world_size = 1;
  bool pad_ranks = false;
  PreprocessConfig preprocess;     // resize/normalize into pixel_values
  int image_size = 0;              // > 0: overrides preprocess height/width (and crop) with a square size
  AugmentConfig augment;           // off by default; seeded by (seed, epoch, sample index)
  SampleTransform transform;       // optional
  // false: images are neither read nor decoded (batches carry no pixel_values), e.g. when the
  // image features come from a cache; `skip_reason` then names the samples decoding would have
  // skipped, with the decoder's reason ("" = keep), so order, skips and stats stay the same.
  bool decode_images = true;
  std::function<std::string(const SampleRef& sample)> skip_reason;
  void validate() const;           // throws ConfigError
};

// Skipped samples by reason: the image decoder's ("empty", "truncated", "corrupt",
// "unsupported_format", "too_large") and the source's ("missing", "unreadable", "not_downloaded").
struct SkipStats {
  int64_t ok = 0;
  std::map<std::string, int64_t> skipped;
  int64_t total_skipped() const;
  std::string to_json() const;     // {"ok": N, "skipped": {"reason": N, ...}}
};

// Position of the next sample to read: a checkpoint stores it, restore() continues from it.
struct LoaderState {
  int64_t epoch = 0;
  int64_t position = 0;            // index into this rank's sample sequence of the epoch
};

struct Batch {
  at::Tensor pixel_values;                 // (B, 3, H, W) float32; undefined without decode_images
  std::vector<std::string> keys;
  std::vector<std::string> captions;       // one per sample, chosen by (seed, epoch, key) among several
  std::vector<std::vector<QA>> qa;
  std::vector<std::any> extras;            // SampleTransform results (empty when there is none)
  int64_t epoch = 0;
  int64_t position_after = 0;              // the state after this batch is {epoch, position_after}
  int64_t size() const { return static_cast<int64_t>(keys.size()); }
};

class Loader {
 public:
  // Reads dataset->samples[indices[i]] (all samples when `indices` is empty, e.g. a split).
  Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options, std::vector<int64_t> indices = {});
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The next batch; empty only when !repeat and the pass is over. Throws Error when a whole
  // epoch yields no readable sample.
  std::optional<Batch> next();

  LoaderState state() const;
  void restore(const LoaderState& state);
  SkipStats stats() const;                 // counted as samples are consumed (deterministic)
  int64_t samples_per_epoch() const { return per_rank_; }  // this rank's sample count per epoch
  int64_t batches_per_epoch() const;

  // The dataset index of this rank's `position`-th sample of `epoch` (exposed for tests).
  int64_t sample_at(int64_t epoch, int64_t position) const;

  // Why dataset sample `index` would be skipped ("" when it loads): read and decoded as the
  // workers do it (e.g. to record the reasons of samples a one-pass reader never received).
  std::string skip_reason(int64_t index) const;

 private:
  struct Loaded;
  void start_workers();
  void stop_workers();
  void worker_loop();
  std::shared_ptr<Loaded> load(int64_t global) const;
  DecodeOptions decode_options() const;
  std::shared_ptr<Loaded> take(int64_t global);
  std::shared_ptr<const std::vector<int64_t>> permutation(int64_t epoch) const;

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;
  PreprocessConfig preprocess_;
  std::vector<int64_t> indices_;
  int64_t per_rank_ = 0;
  int64_t out_h_ = 0, out_w_ = 0;

  // Global sample number g = epoch * per_rank_ + position.
  int64_t cursor_ = 0;                     // next g the consumer takes
  int64_t claim_ = 0;                      // next g a worker claims
  int64_t end_ = 0;                        // one past the last g (one pass), or INT64_MAX (repeat)
  bool stopping_ = false;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  std::map<int64_t, std::shared_ptr<Loaded>> ready_;
  std::vector<std::thread> threads_;
  mutable std::mutex perm_mutex_;
  mutable std::map<int64_t, std::shared_ptr<const std::vector<int64_t>>> perms_;
  mutable std::mutex stats_mutex_;
  SkipStats stats_;
};

// Decodes every image of the dataset with `workers` threads and counts the outcomes (for
// `vlm data stats`); never throws for a bad sample.
SkipStats scan_dataset(const Dataset& dataset, int workers);

}  // namespace vlm::data
