// Peak memory and time of blockwise retrieval ranks (eval/retrieval_blocks.h) at the size the
// real workflow meets: 50k images x 250k captions (5 per image) of random 256-wide embeddings,
// the mean-query rule (one pooled embedding per image). The full similarity matrix would be
// 50 GB in float32; the blocks keep it to their budget. Prints one JSON line.
//   build/bench/bench_retrieval_memory [--images 50000] [--captions-per-image 5] [--dim 256]
//                                      [--block-mib 256] [--threads 2]
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_util.h"
#include "eval/retrieval_blocks.h"

namespace {

double peak_rss_gib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is in KiB
}

}  // namespace

int main(int argc, char** argv) {
  int64_t images = 50000, per_image = 5, dim = 256, block_mib = 256, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int64_t value = std::stoll(argv[i + 1]);
    if (flag == "--images") images = value;
    else if (flag == "--captions-per-image") per_image = value;
    else if (flag == "--dim") dim = value;
    else if (flag == "--block-mib") block_mib = value;
    else if (flag == "--threads") threads = value;
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  torch::set_num_threads(static_cast<int>(threads));
  torch::manual_seed(0);
  namespace F = torch::nn::functional;
  const int64_t texts = images * per_image;
  const at::Tensor image_embeds = F::normalize(torch::randn({images, dim}), F::NormalizeFuncOptions().dim(1));
  std::vector<int64_t> owner(static_cast<size_t>(texts));
  for (int64_t t = 0; t < texts; ++t) owner[t] = t / per_image;
  // Captions near their image, so the ranks are those of a model that learned something.
  const at::Tensor text_embeds = F::normalize(
      image_embeds.index_select(0, torch::tensor(owner)) + 0.08 * torch::randn({texts, dim}), F::NormalizeFuncOptions().dim(1));
  const double rss_inputs = peak_rss_gib();
  const auto start = std::chrono::steady_clock::now();
  const double cpu0 = vlm::bench::process_cpu_seconds();
  const auto ranks = vlm::eval::blockwise_retrieval_ranks(
      image_embeds, text_embeds, owner, [](const at::Tensor& i, const at::Tensor& t) { return torch::matmul(i, t.t()); },
      {}, {.max_block_bytes = block_mib << 20});
  const auto m = vlm::eval::metrics_from_ranks(ranks);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const nlohmann::json out = {{"bench", "retrieval_memory"},
                              {"images", images},
                              {"texts", texts},
                              {"dim", dim},
                              {"block_mib", block_mib},
                              {"threads", threads},
                              {"seconds", seconds},
                              {"cpu_seconds", vlm::bench::process_cpu_seconds() - cpu0},
                              {"peak_rss_gib", peak_rss_gib()},
                              {"rss_after_inputs_gib", rss_inputs},
                              {"full_matrix_gib", static_cast<double>(images) * static_cast<double>(texts) * 4.0 /
                                                      (1024.0 * 1024.0 * 1024.0)},
                              {"i2t_r1", m.i2t_r1},
                              {"t2i_r1", m.t2i_r1},
                              {"load_1m", vlm::bench::load_1m()}};
  std::cout << out.dump() << "\n";
  return 0;
}
