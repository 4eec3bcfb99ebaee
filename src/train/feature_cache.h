// The frozen ViT's stage-1 features, computed once and streamed from disk: with the ViT frozen
// (BLIP-2 stage 1) every epoch would decode the same images and recompute the same
// last_hidden_state, so one pass writes them and later epochs read rows instead.
// The cache folder (vision.feature_cache) is written whole through io::write_dir_atomic: a build
// that is killed leaves only a `DIR.tmp-*` folder (removed by the next build), never a DIR that
// looks complete. Inside it:
//   manifest.json            what it was built from ("source": dataset path, sample count and a
//                            hash of the keys and image locations; ViT config and weights hash;
//                            preprocessing; autocast; dtype), compared on open, any difference
//                            rebuilds; and what it holds (rows, shards, skipped keys with reasons)
//   index.safetensors        "shard" and "row" (N,) int32 for the dataset's N samples in its key
//                            order (the index of a key), -1 where the loader skips the sample
//   shard-00000.safetensors  "features" (rows, 1 + P, D) in bf16, fp16 or fp32
// safetensors because the project already writes, validates and memory-maps it (io/): rows are
// paged in when a batch asks for them, so memory stays flat whatever the cache's size.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/run_config.h"

namespace vlm::io { class SafetensorsFile; }
namespace vlm::models { class ViTModel; }

namespace vlm::train {

struct FeatureCacheBuildOptions {
  int64_t shard_bytes = int64_t{512} << 20;  // rows per shard = max(1, shard_bytes / row bytes)
  // Called after each shard is written with the rows written so far (progress; tests kill here).
  std::function<void(int64_t rows)> after_shard;
};

class FeatureCache {
 public:
  using BuildOptions = FeatureCacheBuildOptions;

  // Opens config.vision.feature_cache when its manifest matches this dataset, ViT, preprocessing
  // and dtype; otherwise rank 0 (re)builds it: `vision` run on `device` over every sample of the
  // dataset (training and validation splits alike), batched, under no-grad in eval mode, with
  // bf16 autocast when the run uses it. Other ranks wait for rank 0's cache (DIR must be on a
  // filesystem every rank sees). Throws Error when DIR holds something that is not a cache.
  static std::unique_ptr<FeatureCache> open_or_build(const config::RunConfig& config, models::ViTModel& vision,
                                                     const c10::Device& device, int rank = 0,
                                                     const BuildOptions& build = {});
  ~FeatureCache();

  bool built() const { return built_; }  // true: this call built it; false: an existing cache was reused
  const std::string& dir() const { return dir_; }
  int64_t rows() const { return rows_; }  // samples with features

  // "" when the sample has features, else the reason the loader skips it ("corrupt", "missing" ...).
  // Throws Error for a key the cache was not built with.
  std::string skip_reason(const std::string& key) const;
  // One sample's features (1 + P, D): a host copy in the cache's dtype, read from the mapped shard.
  at::Tensor row(const std::string& key) const;

 private:
  FeatureCache() = default;
  void open(const std::string& dir, const std::vector<std::string>& keys);

  std::string dir_;
  bool built_ = false;
  int64_t rows_ = 0;
  std::unordered_map<std::string, int64_t> index_of_;   // key -> dataset index
  std::vector<int32_t> shard_, row_;                    // per dataset index; -1 = skipped
  std::map<std::string, std::string> skipped_;          // key -> reason
  std::vector<std::shared_ptr<const io::SafetensorsFile>> files_;
  std::vector<at::Tensor> shards_;                      // (rows, 1 + P, D) views of the mappings
};

}  // namespace vlm::train
