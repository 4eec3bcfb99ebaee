#include "train/batches.h"

#include <torch/torch.h>

#include <atomic>
#include <chrono>

#include "core/error.h"
#include "core/log.h"
#include "data/loader.h"
#include "data/split.h"
#include "inference/builders.h"
#include "train/distributed.h"
#include "train/feature_cache.h"

namespace vlm::train {
namespace {

std::atomic<int64_t> data_wait_ns{0};

class LoaderSource final : public BatchSource {
 public:
  LoaderSource(std::shared_ptr<const data::Dataset> dataset, data::LoaderOptions options,
               std::vector<int64_t> indices, bool timed)
      : loader_(std::move(dataset), std::move(options), std::move(indices)), timed_(timed) {}

  ImageTextBatch next() override {
    const auto start = std::chrono::steady_clock::now();
    std::optional<data::Batch> b = loader_.next();
    if (timed_) data_wait_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
    if (!b) throw Error("the data loader ran dry");
    ImageTextBatch out;
    out.pixel_values = b->pixel_values;
    if (!b->extras.empty()) {  // cached features, one (1 + P, D) row per sample
      std::vector<at::Tensor> rows;
      rows.reserve(b->extras.size());
      for (const auto& e : b->extras) rows.push_back(std::any_cast<at::Tensor>(e));
      out.features = torch::stack(rows);  // (B, 1 + P, D)
    }
    out.keys = std::move(b->keys);
    out.captions = std::move(b->captions);
    for (const auto& qas : b->qa) {
      std::vector<QAPair> row;
      for (const auto& qa : qas) row.push_back({qa.question, qa.answer});
      out.qa.push_back(std::move(row));
    }
    return out;
  }
  nlohmann::json state() const override {
    const auto s = loader_.state();
    return {{"epoch", s.epoch}, {"position", s.position}};
  }
  void restore(const nlohmann::json& state) override {
    loader_.restore({state.at("epoch").get<int64_t>(), state.at("position").get<int64_t>()});
  }
  void rewind() override { loader_.restore({0, 0}); }
  int64_t samples() const override { return loader_.samples_per_epoch(); }

 private:
  data::Loader loader_;
  bool timed_;
};

// The samples of `split` as config.data divides them (none listed for kAll: every sample);
// an empty training or validation split is refused, naming the data.
std::vector<int64_t> split_indices(const data::Dataset& dataset, const config::RunConfig& config, Split split) {
  if (split == Split::kAll) return {};
  const auto parts = data::split_dataset(dataset, config.data.val_fraction, static_cast<uint64_t>(config.data.split_seed));
  std::vector<int64_t> indices = split == Split::kTrain ? parts.train : parts.validation;
  if (indices.empty()) {
    throw ConfigError("data.val_fraction", str("leaves no ", split == Split::kTrain ? "training" : "validation",
                                               " samples out of ", dataset.size(), " in ", config.data.path));
  }
  return indices;
}

}  // namespace

std::shared_ptr<const data::Dataset> open_configured_dataset(const config::RunConfig& config) {
  data::DataSpec spec;
  spec.path = config.data.path;
  spec.format = config.data.format;
  spec.image_column = config.data.image_column;
  spec.caption_column = config.data.caption_column;
  spec.max_samples = config.data.max_samples;
  auto dataset = data::open_dataset(spec);
  if (dataset->samples.empty()) {
    std::string why;
    for (const auto& [reason, n] : dataset->left_out) why += str(why.empty() ? " (" : ", ", n, " ", reason);
    if (!why.empty()) why += ")";
    throw FileError(config.data.path, str("holds no usable samples", why),
                    dataset->warnings.empty() ? "check it with `vlm data stats --data " + config.data.path + "`"
                                              : dataset->warnings.front());
  }
  return dataset;
}

std::vector<std::string> training_captions(const config::RunConfig& config) {
  const std::shared_ptr<const data::Dataset> dataset = open_configured_dataset(config);
  std::vector<std::string> captions;
  for (const int64_t i : split_indices(*dataset, config, Split::kTrain))
    for (const std::string& c : dataset->samples[static_cast<size_t>(i)].captions) captions.push_back(c);
  return captions;
}

data::LoaderOptions loader_options(const config::RunConfig& config, Split split, int64_t batch_size, int rank,
                                   int world_size, int64_t image_size) {
  data::LoaderOptions options;
  options.batch_size = batch_size;
  options.workers = static_cast<int>(config.data.workers);
  options.seed = static_cast<uint64_t>(config.run.seed);
  const bool train = split == Split::kTrain;
  options.shuffle = train;
  options.drop_last = train;
  options.repeat = true;
  options.rank = rank;
  options.world_size = world_size;
  options.preprocess = inference::vision_preprocess(config.vision.path, image_size);  // as inference sees it
  if (train && config.data.augment) {
    // Mild crops and colour jitter; flips swap left/right in the caption so it stays true.
    options.augment.random_resized_crop = true;
    options.augment.crop_scale_min = 0.7f;
    options.augment.horizontal_flip = true;
    options.augment.flip_captions = data::AugmentConfig::FlipCaptions::kSkipIfSpatial;
    options.augment.brightness = 0.2f;
    options.augment.contrast = 0.2f;
    options.augment.seed = static_cast<uint64_t>(config.run.seed);
  }
  return options;
}

std::unique_ptr<BatchSource> make_batch_source(const config::RunConfig& config, Split split, int64_t batch_size,
                                               int rank, int world_size, int64_t image_size,
                                               const FeatureCache* features) {
  std::shared_ptr<const data::Dataset> dataset = open_configured_dataset(config);
  std::vector<int64_t> indices = split_indices(*dataset, config, split);
  data::LoaderOptions options = loader_options(config, split, batch_size, rank, world_size, image_size);
  if (features != nullptr) {
    // Keys and captions only: decoding is where the time goes, and the cache holds the result.
    options.decode_images = false;
    options.skip_reason = [features](const data::SampleRef& s) { return features->skip_reason(s.key); };
    options.transform = [features](const data::SampleRef& s, const std::string&, int64_t) -> std::any {
      return features->row(s.key);  // read from the mapped shard here, on a worker thread
    };
  }
  return std::make_unique<LoaderSource>(std::move(dataset), std::move(options), std::move(indices),
                                        split == Split::kTrain);
}

double data_wait_seconds() { return static_cast<double>(data_wait_ns.load()) * 1e-9; }

at::Tensor to_device(const at::Tensor& host, const c10::Device& device) {
  if (host.device() == device) return host;
  if (device.is_cuda() && host.is_cpu()) return host.pin_memory().to(device, /*non_blocking=*/true);
  return host.to(device);
}

int64_t TaskData::for_each_validation_batch(int64_t max_batches, int64_t batch_size,
                                            const std::function<void(const ImageTextBatch&, int64_t)>& fn) {
  val->rewind();
  int64_t batches = 0;
  for (; batches < max_batches && batches * batch_size < val->samples(); ++batches) fn(val->next(), batches);
  return batches;
}

TaskData::TaskData() = default;
TaskData::TaskData(TaskData&&) noexcept = default;
TaskData& TaskData::operator=(TaskData&&) noexcept = default;
TaskData::~TaskData() = default;

TaskData open_task_data(const config::RunConfig& config, models::ViTModel& vision, const c10::Device& device,
                        Distributed* dist, const char* stage) {
  const int rank = dist ? dist->rank() : 0, world = dist ? dist->world_size() : 1;
  const int64_t image_size = vision->config().image_size;
  TaskData d;
  if (!config.vision.feature_cache.empty()) d.features = FeatureCache::open_or_build(config, vision, device, rank);
  d.train = make_batch_source(config, Split::kTrain, config.train.batch_size, rank, world, image_size, d.features.get());
  d.val = make_batch_source(config, Split::kValidation, config.train.batch_size, 0, 1, image_size, d.features.get());
  log::info(stage, ": ", d.train->samples(), " training samples, ", d.val->samples(), " validation samples");
  return d;
}

}  // namespace vlm::train
