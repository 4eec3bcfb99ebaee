// Builds, checks and reads the stage-1 feature cache (see feature_cache.h for the layout). The
// build reads the images through the training loader's own code (data::Loader over every sample,
// in key order, same decoding and preprocessing), so what is cached and what is skipped is
// exactly what training would have seen; skip reasons come from the loader too.
#include "train/feature_cache.h"

#include <signal.h>
#include <unistd.h>

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/log.h"
#include "core/random.h"
#include "core/torch_compat.h"
#include "data/loader.h"
#include "io/atomic_file.h"
#include "io/jsonl.h"
#include "io/safetensors.h"
#include "io/tensor_store.h"
#include "models/vit.h"
#include "train/batches.h"
#include "train/precision.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace vlm::train {
namespace {

constexpr int kFormatVersion = 1;
constexpr int64_t kBuildBatch = 64;  // at least: a no-grad forward, so memory is not the limit

at::ScalarType storage_dtype(const std::string& name) {
  if (name == "fp16") return at::kHalf;
  if (name == "fp32") return at::kFloat;
  return at::kBFloat16;
}

std::string hex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// Which images, where: a changed key set, file or tar offset changes the hash.
std::string dataset_hash(const data::Dataset& dataset) {
  uint64_t h = 0;
  for (const auto& s : dataset.samples) {
    h = stable_hash(str(s.key, '\0', s.path, '\0', s.member, '\0', s.offset, '\0', s.size, '\0', s.url), h);
  }
  return hex(h);
}

// FNV-1a over 8-byte words of every parameter and buffer (names, shapes and values): the
// weights themselves identify the ViT, whether loaded from a folder or drawn from the seed.
std::string weights_hash(torch::nn::Module& module) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](uint64_t v) { h = (h ^ v) * 0x100000001b3ULL; };
  auto add = [&](const std::string& name, const at::Tensor& t) {
    mix(stable_hash(name, 0));
    for (const int64_t d : t.sizes()) mix(static_cast<uint64_t>(d));
    const at::Tensor c = t.detach().to(torch::kCPU).contiguous();
    const auto* p = static_cast<const uint8_t*>(c.data_ptr());
    const size_t n = static_cast<size_t>(c.nbytes());
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w = 0;
      std::memcpy(&w, p + i, 8);
      mix(w);
    }
    for (; i < n; ++i) mix(p[i]);
  };
  for (const auto& item : module.named_parameters()) add(item.key(), item.value());
  for (const auto& item : module.named_buffers()) add(item.key(), item.value());
  return hex(h);
}

json preprocess_json(const data::LoaderOptions& o) {
  const data::PreprocessConfig& p = o.preprocess;
  return {{"do_resize", p.do_resize},       {"height", p.height},
          {"width", p.width},               {"shortest_edge", p.shortest_edge},
          {"resample", static_cast<int>(p.resample)}, {"do_center_crop", p.do_center_crop},
          {"crop_height", p.crop_height},   {"crop_width", p.crop_width},
          {"do_rescale", p.do_rescale},     {"rescale_factor", p.rescale_factor},
          {"do_normalize", p.do_normalize}, {"image_mean", p.image_mean},
          {"image_std", p.image_std},       {"fast_decode", p.fast_decode},
          {"image_size", o.image_size}};
}

std::string absolute(const std::string& path) {
  if (path.empty() || path.starts_with("synthetic:")) return path;
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  return ec ? path : p.string();
}

// What the features are a function of; a cache whose "source" differs in anything is stale.
json describe_source(const config::RunConfig& config, const data::Dataset& dataset,
                     const data::LoaderOptions& options, models::ViTModel& vision, bool autocast) {
  return {{"format", kFormatVersion},
          {"dataset", {{"path", absolute(dataset.origin)}, {"format", dataset.format},
                       {"samples", dataset.size()}, {"keys_hash", dataset_hash(dataset)}}},
          {"vision", {{"path", absolute(config.vision.path)}, {"config", vision->config().to_json()},
                      {"weights_hash", weights_hash(*vision)}}},
          {"preprocess", preprocess_json(options)},
          {"autocast_bf16", autocast},
          {"dtype", config.vision.feature_cache_dtype}};
}

// "" when DIR holds a complete cache built from `source`, else why not (for the log).
std::string staleness(const std::string& dir, const json& source) {
  const std::string path = dir + "/manifest.json";
  if (!fs::exists(path)) return "no cache yet";
  json manifest;
  try {
    manifest = json::parse(io::read_file(path));
  } catch (const std::exception& e) {
    return str("unreadable manifest: ", e.what());
  }
  if (!manifest.contains("source")) return "manifest without a source";
  const json& old = manifest["source"];
  for (const auto& [key, value] : source.items()) {
    if (!old.contains(key) || old[key] != value) return str("its ", key, " changed");
  }
  return {};
}

// Removes what killed builds left beside DIR (`DIR.tmp-PID-N`), unless PID is still running.
void remove_leftovers(const std::string& dir) {
  const fs::path target = fs::absolute(dir).lexically_normal();
  const fs::path parent = target.parent_path();
  if (!fs::is_directory(parent)) return;
  const std::string prefix = target.filename().string() + ".tmp-";
  for (const auto& entry : fs::directory_iterator(parent)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) == 0) continue;  // a live build
    std::error_code ec;
    fs::remove_all(entry.path(), ec);
    log::info("feature cache: removed ", entry.path().string(), ", left by an interrupted build");
  }
}

std::string shard_name(int64_t i) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "shard-%05lld.safetensors", static_cast<long long>(i));
  return buf;
}

// Runs the ViT over every sample and writes shards, index and manifest (last) into `out`.
void write_cache(const std::string& out, const config::RunConfig& config,
                 std::shared_ptr<const data::Dataset> dataset, data::LoaderOptions options, json source,
                 models::ViTModel& vision, const c10::Device& device, bool autocast,
                 const FeatureCache::BuildOptions& build) {
  const auto started = std::chrono::steady_clock::now();
  const auto n = static_cast<int64_t>(dataset->size());
  std::unordered_map<std::string, int64_t> index_of;
  for (int64_t i = 0; i < n; ++i) index_of[dataset->samples[static_cast<size_t>(i)].key] = i;
  options.shuffle = false;   // one pass in key order, the last partial batch included
  options.drop_last = false;
  options.repeat = false;
  data::Loader loader(dataset, options);

  const at::ScalarType dtype = storage_dtype(config.vision.feature_cache_dtype);
  std::vector<int32_t> shard_of(static_cast<size_t>(n), -1), row_of(static_cast<size_t>(n), -1);
  at::Tensor buffer;  // (shard_rows, 1 + P, D), allocated at the first batch
  int64_t filled = 0, shards = 0, rows = 0, bytes = 0;
  auto flush = [&] {
    if (filled == 0) return;
    io::save_tensors(out + "/" + shard_name(shards), {{"features", buffer.narrow(0, 0, filled)}});
    bytes += buffer.narrow(0, 0, filled).nbytes();
    ++shards;
    filled = 0;
    if (build.after_shard) build.after_shard(rows);
  };

  torch::NoGradGuard no_grad;
  vision->eval();
  auto last_log = started;
  while (std::optional<data::Batch> batch = loader.next()) {
    at::Tensor feats;
    {
      compat::AutocastGuard guard(device.type(), autocast);
      feats = vision->forward(to_device(batch->pixel_values, device));  // (B, 1 + P, D)
    }
    feats = feats.to(torch::kCPU, dtype);  // one sync per batch: the build is not the training step
    if (!buffer.defined()) {
      const int64_t row_bytes = feats[0].nbytes();
      const int64_t shard_rows = std::max<int64_t>(1, build.shard_bytes / row_bytes);
      buffer = torch::empty({shard_rows, feats.size(1), feats.size(2)}, feats.options());
    }
    for (int64_t i = 0; i < feats.size(0); ++i) {
      const int64_t index = index_of.at(batch->keys[static_cast<size_t>(i)]);
      buffer[filled].copy_(feats[i]);
      shard_of[static_cast<size_t>(index)] = static_cast<int32_t>(shards);
      row_of[static_cast<size_t>(index)] = static_cast<int32_t>(filled);
      ++filled;
      ++rows;
      if (filled == buffer.size(0)) flush();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_log > std::chrono::seconds(30)) {
      log::info("feature cache: ", rows, " of ", n, " samples");
      last_log = now;
    }
  }
  flush();

  json skipped = json::object();
  for (int64_t i = 0; i < n; ++i) {
    if (shard_of[static_cast<size_t>(i)] >= 0) continue;
    std::string reason = loader.skip_reason(i);
    skipped[dataset->samples[static_cast<size_t>(i)].key] = reason.empty() ? "unknown" : reason;
  }
  io::save_tensors(out + "/index.safetensors",
                   {{"shard", torch::from_blob(shard_of.data(), {n}, torch::kInt)},
                    {"row", torch::from_blob(row_of.data(), {n}, torch::kInt)}});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  json manifest = {{"source", std::move(source)},
                   {"rows", rows},
                   {"shards", shards},
                   {"row_shape", buffer.defined() ? json{buffer.size(1), buffer.size(2)} : json::array()},
                   {"bytes", bytes},
                   {"skipped", skipped},
                   {"built_on", device.str()},
                   {"build_seconds", seconds}};
  io::write_file_atomic(out + "/manifest.json", manifest.dump(2));  // last: its presence means complete
  log::info("feature cache: ", rows, " samples (", skipped.size(), " skipped) in ", shards, " shards, ",
            static_cast<double>(bytes) / double(1 << 30), " GiB, built in ", seconds, " s");
}

}  // namespace

FeatureCache::~FeatureCache() = default;

std::unique_ptr<FeatureCache> FeatureCache::open_or_build(const config::RunConfig& config, models::ViTModel& vision,
                                                          const c10::Device& device, int rank,
                                                          const BuildOptions& build) {
  const std::string dir = config.vision.feature_cache;
  if (dir.empty()) throw ConfigError("vision.feature_cache", "is empty: no cache to open");
  std::shared_ptr<const data::Dataset> dataset = open_configured_dataset(config);
  const data::LoaderOptions options =
      loader_options(config, Split::kAll, std::max(config.train.batch_size, kBuildBatch), /*rank=*/0,
                     /*world_size=*/1, vision->config().image_size);
  const bool autocast = use_bf16(config, device);
  const json source = describe_source(config, *dataset, options, vision, autocast);

  std::unique_ptr<FeatureCache> cache(new FeatureCache());
  std::string why = staleness(dir, source);
  if (!why.empty() && rank != 0) {
    log::info("feature cache: waiting for rank 0 to build ", dir, " (", why, ")");
    while (!(why = staleness(dir, source)).empty()) std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  if (!why.empty()) {
    if (fs::exists(dir) && !fs::exists(dir + "/manifest.json") && !fs::is_empty(dir)) {
      throw Error("vision.feature_cache " + dir + " holds files but no feature cache (no manifest.json)",
                  "point vision.feature_cache at a new or empty folder: a rebuild replaces the folder whole");
    }
    remove_leftovers(dir);
    log::info("feature cache: building ", dir, " (", why, "): ", dataset->size(), " samples through the ViT on ",
              device.str(), ", stored ", config.vision.feature_cache_dtype);
    io::write_dir_atomic(dir, [&](const std::string& tmp) {
      write_cache(tmp, config, dataset, options, source, vision, device, autocast, build);
    });
    cache->built_ = true;
  }
  std::vector<std::string> keys;
  keys.reserve(dataset->size());
  for (const auto& s : dataset->samples) keys.push_back(s.key);
  cache->open(dir, keys);
  if (!cache->built_) {
    log::info("feature cache: reusing ", dir, " (", cache->rows_, " samples, ", cache->shards_.size(), " shards, ",
              config.vision.feature_cache_dtype, "): images are not decoded, the ViT does not run");
  }
  return cache;
}

void FeatureCache::open(const std::string& dir, const std::vector<std::string>& keys) {
  dir_ = dir;
  const json manifest = io::read_json_file(dir + "/manifest.json");
  const auto index = io::SafetensorsFile::open(dir + "/index.safetensors");
  const at::Tensor shard = io::tensor_from_file(index, index->at("shard"));
  const at::Tensor row = io::tensor_from_file(index, index->at("row"));
  const auto n = static_cast<int64_t>(keys.size());
  if (shard.numel() != n || row.numel() != n) {
    throw FileError(dir + "/index.safetensors", str("indexes ", shard.numel(), " samples, the dataset has ", n),
                    "delete " + dir + " to rebuild the cache");
  }
  shard_.assign(shard.data_ptr<int32_t>(), shard.data_ptr<int32_t>() + n);
  row_.assign(row.data_ptr<int32_t>(), row.data_ptr<int32_t>() + n);
  index_of_.clear();
  for (int64_t i = 0; i < n; ++i) index_of_[keys[static_cast<size_t>(i)]] = i;
  for (const auto& [key, reason] : manifest.at("skipped").items()) skipped_[key] = reason.get<std::string>();
  rows_ = manifest.at("rows").get<int64_t>();
  const auto shards = manifest.at("shards").get<int64_t>();
  for (int64_t s = 0; s < shards; ++s) {
    files_.push_back(io::SafetensorsFile::open(dir + "/" + shard_name(s)));
    shards_.push_back(io::tensor_from_file(files_.back(), files_.back()->at("features")));  // (rows, 1 + P, D)
  }
  for (int64_t i = 0; i < n; ++i) {
    const int32_t s = shard_[static_cast<size_t>(i)], r = row_[static_cast<size_t>(i)];
    if (s < 0) continue;
    if (s >= shards || r < 0 || r >= shards_[static_cast<size_t>(s)].size(0)) {
      throw FileError(dir + "/index.safetensors", str("sample ", keys[static_cast<size_t>(i)], " points at shard ", s,
                                                      " row ", r, ", which does not exist"),
                      "delete " + dir + " to rebuild the cache");
    }
  }
}

std::string FeatureCache::skip_reason(const std::string& key) const {
  const auto it = index_of_.find(key);
  if (it == index_of_.end()) throw Error("feature cache " + dir_ + " has no sample '" + key + "'");
  if (shard_[static_cast<size_t>(it->second)] >= 0) return {};
  const auto s = skipped_.find(key);
  return s == skipped_.end() ? std::string("unknown") : s->second;
}

at::Tensor FeatureCache::row(const std::string& key) const {
  const auto it = index_of_.find(key);
  if (it == index_of_.end()) throw Error("feature cache " + dir_ + " has no sample '" + key + "'");
  const auto i = static_cast<size_t>(it->second);
  if (shard_[i] < 0)
    throw Error("feature cache " + dir_ + ": sample '" + key + "' was skipped (" + skip_reason(key) + ")");
  return shards_[static_cast<size_t>(shard_[i])][row_[i]].clone();  // (1 + P, D), paged in from the mapping
}

}  // namespace vlm::train
