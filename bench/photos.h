// Photo-like test JPEGs for the data benchmarks (bench_image_preprocess, bench_loader_throughput):
// a synthetic scene rendered at the longer side, cropped to width x height, with a smooth colour
// gradient and per-pixel grain so the JPEG carries photo-like entropy (~50-60 KB at 500x375,
// quality 90, Conceptual Captions' typical size). Deterministic in the index.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "core/random.h"
#include "data/augment.h"
#include "data/image.h"
#include "data/synthetic.h"

namespace vlm::bench {

// The picture and the scene's caption (it names every object).
struct Photo {
  data::Image image;
  std::string caption;
};

inline Photo make_photo(int index, int width, int height) {
  data::SyntheticConfig config;
  config.seed = 77;
  config.image_size = std::max(width, height);
  const data::SyntheticSample s =
      data::generate_sample(config, data::SyntheticSplit::kTrain, static_cast<uint64_t>(index));
  const int x0 = (config.image_size - width) / 2, y0 = (config.image_size - height) / 2;
  data::Image im = data::crop_image(s.image, x0, y0, width, height);
  uint64_t state = kGoldenGamma * static_cast<uint64_t>(index + 1);
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width; ++x) {
      uint8_t* p = im.pixel(x, y);
      for (int c = 0; c < 3; ++c) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        const double grain = static_cast<double>((state >> 33) % 25) - 12.0;
        const double wave = 25.0 * std::sin(0.02 * x * (c + 1) + 0.015 * y + index);
        p[c] = static_cast<uint8_t>(std::clamp(p[c] + wave + grain, 0.0, 255.0));
      }
    }
  }
  return {std::move(im), s.caption};
}

}  // namespace vlm::bench
