// Generation throughput with the KV cache: a random SmolLM-135M- or Qwen3-0.6B-shaped LM in
// bf16 (or fp32) weights, a prompt of random ids, greedy decoding of exactly --new tokens (no
// end-of-sequence stop), batch 1 and 32 by default. Prints one JSON line per batch size: new
// tokens per second over the whole generate call (prefill included), median of --runs runs
// after one warm-up. bench/python/baseline.py times transformers' generate on the same shapes.
//   bench_generate [--lm smollm|qwen3] [--batches 1,32] [--prompt-len 32] [--new 128]
//                  [--runs 3] [--device cpu|cuda] [--dtype bf16|fp32] [--threads N]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "core/accelerator.h"
#include "core/runtime.h"
#include "models/generation.h"
#include "real_models.h"

int main(int argc, char** argv) {
  using namespace vlm;
  try {
    std::string lm_name = "smollm", batches = "1,32", device_spec = "auto", dtype = "bf16";
    int64_t prompt_len = 32, new_tokens = 128, runs = 3;
    int threads = 0;
    for (int i = 1; i < argc; ++i) {
      const std::string k = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
      const std::string v = argv[++i];
      if (k == "--lm") lm_name = v;
      else if (k == "--batches") batches = v;
      else if (k == "--prompt-len") prompt_len = std::stoll(v);
      else if (k == "--new") new_tokens = std::stoll(v);
      else if (k == "--runs") runs = std::stoll(v);
      else if (k == "--device") device_spec = v;
      else if (k == "--dtype") dtype = v;
      else if (k == "--threads") threads = std::stoi(v);
      else throw std::invalid_argument("unknown option " + k);
    }
    runtime::configure_threads(threads);
    runtime::seed_everything(0);
    const c10::Device device = runtime::parse_device(device_spec);
    torch::NoGradGuard no_grad;
    auto lm = models::DecoderLM(bench::lm_config(lm_name));
    lm->to(device, dtype == "bf16" ? torch::kBFloat16 : torch::kFloat);
    lm->eval();
    models::GenerationConfig cfg;
    cfg.max_new_tokens = new_tokens;  // greedy; no eos ids: every row runs to the end
    std::stringstream list(batches);
    for (std::string item; std::getline(list, item, ',');) {
      const int64_t b = std::stoll(item);
      const auto ids = torch::randint(100, 20000, {b, prompt_len}, torch::TensorOptions(torch::kLong).device(device));
      const auto mask = torch::ones_like(ids);
      models::generate(*lm, ids, mask, cfg);  // warm-up
      accelerator::synchronize(device);
      std::vector<double> seconds;
      for (int64_t r = 0; r < runs; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto out = models::generate(*lm, ids, mask, cfg);
        accelerator::synchronize(device);
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        if (out.sequences.size(1) != new_tokens) throw std::runtime_error("generation stopped early");
      }
      const double s = bench::median(seconds);
      std::cout << nlohmann::json{{"impl", "cpp"}, {"what", "generate"}, {"lm", lm_name}, {"batch", b},
                                  {"device", device.str()}, {"dtype", dtype}, {"prompt_len", prompt_len},
                                  {"new_tokens", new_tokens}, {"seconds", s},
                                  {"tokens_per_s", static_cast<double>(b * new_tokens) / s}}
                       .dump()
                << std::endl;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_generate: " << e.what() << "\n";
    return 1;
  }
}
