// Images per second of the threaded data loader end to end, as stage 1 reads its data: webdataset
// shards (KEY.jpg + KEY.txt, the layout `vlm download` writes) of photo-like 500x375 JPEGs at
// quality 90 -> read + decode + resize to 224x224 + normalize on the loader's worker threads, the
// caption tokenized there too (BERT-uncased WordPiece, 32 ids padded: the Q-Former's tokenizer)
// through the loader's per-sample hook -> batches of pixel_values (B, 3, 224, 224) and ids (B, 32)
// on the caller's thread. For each worker count and decode mode (exact = PIL's pixels, fast = fast
// IDCT): images per wall-clock second and per CPU-second of the whole process. One JSON line.
//   bench_loader_throughput [--images 512] [--workers 1,2] [--batch 32] [--batches 24] [--modes exact,fast]
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <any>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "data/image.h"
#include "data/loader.h"
#include "data/sources.h"
#include "data/tar.h"
#include "photos.h"
#include "tokenizers/tokenizer.h"

namespace {

using namespace vlm;
using bench::load_1m;
using bench::median;
using bench::process_cpu_seconds;
using bench::split_list;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kShardSize = 256;
constexpr size_t kTextLength = 32;  // configs/cc-*/stage1.yaml qformer.max_text_length

// Writes the shards once (kept in the temp folder between runs); returns the mean JPEG size in KB.
double write_shards(const fs::path& dir, int n_images) {
  const fs::path done = dir / "complete";
  if (!fs::exists(done)) {
    fs::create_directories(dir);
    for (int first = 0; first < n_images; first += kShardSize) {
      char shard[32];
      std::snprintf(shard, sizeof(shard), "%05d.tar", first / kShardSize);
      data::TarWriter tar((dir / shard).string());
      for (int i = first; i < std::min(n_images, first + kShardSize); ++i) {
        const bench::Photo photo = bench::make_photo(i, 500, 375);
        char key[32];
        std::snprintf(key, sizeof(key), "%09d", i);
        tar.add(std::string(key) + ".jpg", data::encode_jpeg(photo.image, 90));
        tar.add(std::string(key) + ".txt", photo.caption);
      }
      tar.close();
    }
    std::FILE* f = std::fopen(done.c_str(), "w");
    if (f != nullptr) std::fclose(f);
  }
  double bytes = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".tar") bytes += static_cast<double>(fs::file_size(e.path()));
  return bytes / n_images / 1024.0;  // tar headers and captions included: ~1%
}

// One loader configuration: the first batch (thread start, pipeline fill) untimed, then `batches` timed.
nlohmann::json run(std::shared_ptr<const data::Dataset> dataset, const tokenizers::Tokenizer& tokenizer, int workers,
                   bool fast, int64_t batch_size, int64_t batches) {
  data::LoaderOptions o;
  o.batch_size = batch_size;
  o.workers = workers;
  o.image_size = 224;  // ViTImageProcessor's defaults otherwise: bilinear, 1/255, mean = std = 0.5
  o.preprocess.fast_decode = fast;
  tokenizers::EncodeOptions enc;
  enc.truncation = tokenizers::TruncationOptions{.max_length = kTextLength};
  enc.padding = tokenizers::PaddingOptions{.length = kTextLength};
  o.transform = [&tokenizer, enc](const data::SampleRef&, const std::string& caption, int64_t) -> std::any {
    return tokenizer.encode(caption, enc).ids;
  };
  data::Loader loader(std::move(dataset), o);
  double checksum = 0;
  auto take = [&] {
    std::optional<data::Batch> b = loader.next();
    if (!b) throw std::runtime_error("the loader ran dry");
    std::vector<int64_t> ids;  // the collate step of the text side: (B, 32)
    for (const auto& e : b->extras) {
      const auto& row = std::any_cast<const std::vector<int64_t>&>(e);
      ids.insert(ids.end(), row.begin(), row.end());
    }
    const at::Tensor text = torch::tensor(ids).view({b->size(), static_cast<int64_t>(kTextLength)});  // (B, 32)
    checksum += b->pixel_values[0][0][0][0].item<double>() + static_cast<double>(text[0][0].item<int64_t>());
  };
  take();
  const double cpu0 = process_cpu_seconds();
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < batches; ++i) take();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = process_cpu_seconds() - cpu0;
  const double images = static_cast<double>(batches * batch_size);
  return {{"workers", workers},
          {"mode", fast ? "fast" : "exact"},
          {"images_per_s", images / wall},
          {"images_per_cpu_s", images / cpu},
          {"cpu_utilisation", cpu / wall},
          {"skipped", loader.stats().total_skipped()},
          {"checksum", checksum}};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int n_images = 512;
    int64_t batch_size = 32, batches = 24;
    std::vector<std::string> workers = {"1", "2"}, modes = {"exact", "fast"};
    for (int i = 1; i < argc; ++i) {
      const std::string k = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
      const std::string v = argv[++i];
      if (k == "--images") n_images = std::stoi(v);
      else if (k == "--workers") workers = split_list(v);
      else if (k == "--batch") batch_size = std::stoll(v);
      else if (k == "--batches") batches = std::stoll(v);
      else if (k == "--modes") modes = split_list(v);
      else throw std::invalid_argument("unknown option " + k);
    }
    if (n_images < 1 || batch_size < 1 || batches < 1) throw std::invalid_argument("--images, --batch, --batches >= 1");
    torch::set_num_threads(1);  // the loader's work is its own threads'; collation is tiny

    const fs::path dir = fs::temp_directory_path() / ("vlm-bench-shards-500x375-" + std::to_string(n_images));
    const double mean_kb = write_shards(dir, n_images);
    data::DataSpec spec;
    spec.path = dir.string();
    spec.format = "webdataset";
    const std::shared_ptr<const data::Dataset> dataset = data::open_dataset(spec);
    const auto tokenizer =
        tokenizers::Tokenizer::from_path(std::string(VLM_SOURCE_DIR) + "/tests/fixtures/tokenizers/bert-uncased");

    nlohmann::json out = {{"bench", "loader_throughput"},
                          {"images", n_images},
                          {"size", "500x375"},
                          {"mean_jpeg_kb", mean_kb},
                          {"source", "webdataset shards"},
                          {"target", "224x224 bilinear + normalize, caption -> 32 ids"},
                          {"batch", batch_size},
                          {"timed_batches", batches},
                          {"load_1m_start", load_1m()}};
    for (const auto& mode : modes) {
      if (mode != "exact" && mode != "fast") throw std::invalid_argument("--modes: exact, fast");
      for (const auto& w : workers)
        out["runs"].push_back(run(dataset, tokenizer, std::stoi(w), mode == "fast", batch_size, batches));
    }
    out["load_1m_end"] = load_1m();
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_loader_throughput: " << e.what() << "\n";
    return 1;
  }
}
