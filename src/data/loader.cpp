// The threaded loader: workers claim global sample numbers (epoch * per_rank + position) inside a
// window of prefetch_batches batches past the consumer, load them into a reorder buffer, and the
// consumer takes them strictly in order, so batches do not depend on thread timing. Skips are
// counted when consumed, hence deterministic too. See loader.h.
#include "data/loader.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/random.h"
#include "data/image.h"
#include "data/split.h"

namespace vlm::data {

struct Loader::Loaded {
  bool ok = false;
  std::string reason;             // skip reason when !ok
  std::exception_ptr error;       // a failure that is not the data's (e.g. in the transform)
  std::vector<float> pixels;      // 3 * H * W
  std::string key, caption;
  std::vector<QA> qa;
  std::any extra;
};

namespace {

void count(SkipStats& stats, const std::string& reason) {
  if (reason.empty()) ++stats.ok;
  else ++stats.skipped[reason];
}

// Reads and decodes one sample; the skip reason, or "" when it decoded.
std::string try_decode(const SampleRef& sample, const DecodeOptions& options, Image* out) {
  try {
    const auto bytes = read_bytes(sample);
    *out = decode_image(bytes, sample.member.empty() ? sample.path : sample.path + ":" + sample.member, options);
    return {};
  } catch (const SampleError& e) {
    return e.reason();
  } catch (const ImageError& e) {
    return e.reason();
  }
}

}  // namespace

void LoaderOptions::validate() const {
  if (batch_size < 1) throw ConfigError("batch_size", str("must be >= 1, got ", batch_size));
  if (workers < 0) throw ConfigError("data.workers", str("must be >= 0, got ", workers));
  if (prefetch_batches < 1) throw ConfigError("prefetch_batches", str("must be >= 1, got ", prefetch_batches));
  if (world_size < 1 || rank < 0 || rank >= world_size)
    throw ConfigError("rank", str("rank ", rank, " of world size ", world_size, " is impossible"));
  if (image_size < 0) throw ConfigError("image_size", str("must be >= 0, got ", image_size));
  if (!decode_images && augment.enabled())
    throw ConfigError("augment", "needs decoded images", "turn augmentation off when images are not decoded");
  preprocess.validate();
  augment.validate();
}

int64_t SkipStats::total_skipped() const {
  int64_t n = 0;
  for (const auto& [reason, c] : skipped) n += c;
  return n;
}

std::string SkipStats::to_json() const {
  nlohmann::json j;
  j["ok"] = ok;
  j["skipped"] = nlohmann::json::object();
  for (const auto& [reason, c] : skipped) j["skipped"][reason] = c;
  return j.dump();
}

Loader::Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options, std::vector<int64_t> indices)
    : dataset_(std::move(dataset)), options_(std::move(options)), indices_(std::move(indices)) {
  options_.validate();
  if (!dataset_) throw Error("Loader: no dataset");
  if (indices_.empty()) {
    indices_.resize(dataset_->samples.size());
    for (size_t i = 0; i < indices_.size(); ++i) indices_[i] = static_cast<int64_t>(i);
  }
  for (int64_t i : indices_)
    if (i < 0 || i >= static_cast<int64_t>(dataset_->samples.size()))
      throw Error(str("Loader: sample index ", i, " outside the dataset of ", dataset_->samples.size()));
  preprocess_ = options_.preprocess;
  if (options_.image_size > 0) {
    preprocess_.height = preprocess_.width = options_.image_size;
    preprocess_.crop_height = preprocess_.crop_width = options_.image_size;
    if (preprocess_.shortest_edge > 0) preprocess_.shortest_edge = options_.image_size;
  }
  if (preprocess_.do_resize && preprocess_.shortest_edge > 0 && !preprocess_.do_center_crop)
    throw ConfigError("preprocess", "shortest_edge without a center crop gives images of different sizes",
                      "set do_center_crop (crop_size) so every image of a batch has one size");
  const auto [w, h] = preprocess_.output_size(1000, 1000);
  out_w_ = w;
  out_h_ = h;
  const auto n = static_cast<int64_t>(indices_.size());
  const int64_t world = options_.world_size;
  per_rank_ = options_.pad_ranks ? (n + world - 1) / world : n / world;
  if (per_rank_ == 0)
    throw Error(str(dataset_->origin, ": ", n, " samples cannot feed ", world, " rank(s)"), "use more data or fewer ranks");
  end_ = options_.repeat ? std::numeric_limits<int64_t>::max() : per_rank_;
  start_workers();
}

Loader::~Loader() { stop_workers(); }

int64_t Loader::batches_per_epoch() const {
  const int64_t b = options_.batch_size;
  return options_.drop_last ? per_rank_ / b : (per_rank_ + b - 1) / b;
}

std::shared_ptr<const std::vector<int64_t>> Loader::permutation(int64_t epoch) const {
  std::lock_guard<std::mutex> lock(perm_mutex_);
  const auto it = perms_.find(epoch);
  if (it != perms_.end()) return it->second;
  auto perm = std::make_shared<std::vector<int64_t>>(indices_);
  if (options_.shuffle) {
    // Fisher-Yates with our own generator: std::shuffle's output differs between standard libraries.
    uint64_t state = stable_hash(str("epoch:", epoch), options_.seed);
    for (size_t i = perm->size(); i > 1; --i) {
      const size_t j = static_cast<size_t>(mix64(state += kGoldenGamma) % i);  // splitmix64's stream
      std::swap((*perm)[i - 1], (*perm)[j]);
    }
  }
  while (perms_.size() >= 3) perms_.erase(perms_.begin());  // workers are at most an epoch or two ahead
  perms_[epoch] = perm;
  return perm;
}

int64_t Loader::sample_at(int64_t epoch, int64_t position) const {
  const auto perm = permutation(epoch);
  const auto n = static_cast<int64_t>(perm->size());
  const int64_t q = (position * options_.world_size + options_.rank) % n;  // wraps only when padding
  return (*perm)[static_cast<size_t>(q)];
}

std::shared_ptr<Loader::Loaded> Loader::load(int64_t global) const {
  auto out = std::make_shared<Loaded>();
  const int64_t epoch = global / per_rank_;
  const int64_t index = sample_at(epoch, global % per_rank_);
  const SampleRef& sample = dataset_->samples[static_cast<size_t>(index)];
  out->key = sample.key;
  out->qa = sample.qa;
  if (!sample.captions.empty()) {
    const uint64_t pick = stable_hash(sample.key, seed_stream::loader_caption_pick(options_.seed, epoch));
    out->caption = sample.captions[pick % sample.captions.size()];
  }
  try {
    if (!options_.decode_images) {
      if (options_.skip_reason) out->reason = options_.skip_reason(sample);
      if (!out->reason.empty()) return out;
      if (options_.transform) out->extra = options_.transform(sample, out->caption, epoch);
      out->ok = true;
      return out;
    }
    Image image;
    out->reason = try_decode(sample, decode_options(), &image);
    if (!out->reason.empty()) return out;
    if (options_.augment.enabled()) {
      AugmentResult r = augment(image, out->caption, options_.augment, static_cast<uint64_t>(epoch),
                                static_cast<uint64_t>(index));
      image = std::move(r.image);
      out->caption = std::move(r.caption);
    }
    out->pixels.resize(static_cast<size_t>(3 * out_h_ * out_w_));
    preprocess_into(image, preprocess_, out->pixels.data());
    if (options_.transform) out->extra = options_.transform(sample, out->caption, epoch);
    out->ok = true;
  } catch (...) {
    out->error = std::current_exception();
  }
  return out;
}

DecodeOptions Loader::decode_options() const {
  DecodeOptions decode;
  decode.min_side_hint = preprocess_.decode_hint();
  decode.fast_jpeg = preprocess_.fast_decode;
  return decode;
}

std::string Loader::skip_reason(int64_t index) const {
  if (index < 0 || index >= static_cast<int64_t>(dataset_->samples.size()))
    throw Error(str("Loader: sample index ", index, " outside the dataset of ", dataset_->samples.size()));
  Image image;
  return try_decode(dataset_->samples[static_cast<size_t>(index)], decode_options(), &image);
}

void Loader::start_workers() {
  stopping_ = false;
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  ready_.clear();
}

void Loader::worker_loop() {
  const int64_t window = std::max<int64_t>(1, options_.prefetch_batches) * options_.batch_size;
  for (;;) {
    int64_t g = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [&] { return stopping_ || (claim_ < cursor_ + window && claim_ < end_); });
      if (stopping_) return;
      g = claim_++;
    }
    auto loaded = load(g);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      ready_[g] = std::move(loaded);
    }
    ready_cv_.notify_all();
  }
}

std::shared_ptr<Loader::Loaded> Loader::take(int64_t global) {
  if (threads_.empty()) {
    cursor_ = global + 1;
    return load(global);
  }
  std::shared_ptr<Loaded> out;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_cv_.wait(lock, [&] { return ready_.count(global) != 0; });
    const auto it = ready_.find(global);
    out = std::move(it->second);
    ready_.erase(it);
    cursor_ = global + 1;
  }
  work_cv_.notify_all();
  return out;
}

std::optional<Batch> Loader::next() {
  const auto b = static_cast<size_t>(options_.batch_size);
  int64_t seen_without_ok = 0;
  for (;;) {
    if (cursor_ >= end_) return std::nullopt;
    const int64_t epoch = cursor_ / per_rank_;
    const int64_t epoch_end = (epoch + 1) * per_rank_;
    std::vector<std::shared_ptr<Loaded>> items;
    while (items.size() < b && cursor_ < epoch_end) {
      auto item = take(cursor_);
      if (item->error) std::rethrow_exception(item->error);
      {
        std::lock_guard<std::mutex> lock(stats_mutex_);
        count(stats_, item->ok ? "" : item->reason);
      }
      if (item->ok) {
        items.push_back(std::move(item));
        seen_without_ok = 0;
      } else if (++seen_without_ok >= per_rank_) {
        throw Error(str(dataset_->origin, ": no readable image in a whole epoch of ", per_rank_, " samples"),
                    "run `vlm data stats --data " + dataset_->origin + "` to see why they fail");
      }
    }
    if (items.empty() || (items.size() < b && options_.drop_last)) continue;  // the epoch's tail: next epoch
    Batch batch;
    batch.epoch = epoch;
    batch.position_after = cursor_ - epoch * per_rank_;
    const auto n = static_cast<int64_t>(items.size());
    if (options_.decode_images) batch.pixel_values = torch::empty({n, 3, out_h_, out_w_}, torch::kFloat32);
    const size_t per_image = static_cast<size_t>(3 * out_h_ * out_w_);
    for (int64_t i = 0; i < n; ++i) {
      Loaded& item = *items[static_cast<size_t>(i)];
      if (options_.decode_images)
        std::memcpy(batch.pixel_values.data_ptr<float>() + i * per_image, item.pixels.data(),
                    per_image * sizeof(float));
      batch.keys.push_back(std::move(item.key));
      batch.captions.push_back(std::move(item.caption));
      batch.qa.push_back(std::move(item.qa));
      if (options_.transform) batch.extras.push_back(std::move(item.extra));
    }
    return batch;
  }
}

LoaderState Loader::state() const { return {cursor_ / per_rank_, cursor_ % per_rank_}; }

void Loader::restore(const LoaderState& state) {
  if (state.epoch < 0 || state.position < 0 || state.position > per_rank_)
    throw Error(str("Loader: cannot resume at epoch ", state.epoch, " position ", state.position, " (", per_rank_,
                    " samples per epoch on this rank)"),
                "the checkpoint was written for other data, batch layout or world size");
  stop_workers();
  cursor_ = claim_ = state.epoch * per_rank_ + state.position;
  end_ = options_.repeat ? std::numeric_limits<int64_t>::max() : (state.epoch + 1) * per_rank_;
  if (!options_.repeat && state.position == per_rank_) end_ = cursor_;
  start_workers();
}

SkipStats Loader::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return stats_;
}

SkipStats scan_dataset(const Dataset& dataset, int workers) {
  SkipStats stats;
  std::mutex mutex;
  std::atomic<size_t> next{0};
  auto work = [&] {
    Image image;
    for (size_t i = next++; i < dataset.samples.size(); i = next++) {
      const std::string reason = try_decode(dataset.samples[i], DecodeOptions{}, &image);
      std::lock_guard<std::mutex> lock(mutex);
      count(stats, reason);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(1, workers); ++i) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  return stats;
}

}  // namespace vlm::data
