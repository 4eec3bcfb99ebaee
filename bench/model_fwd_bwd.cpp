// Training forward + backward of a SmolLM-135M-shaped LM and a ViT-B/16-shaped encoder with random
// weights in fp32 on the CPU: median time per step, tokens/s or images/s, the analytic FLOPs, and
// the fraction of this machine's fp32 GEMM peak, measured in the same run as the best of several
// large square at::mm (before and after the models, the higher kept). The same per process
// CPU-second too, which other work on a shared machine disturbs much less. Prints one JSON line.
// Shapes come from the published config.json files through the project's own config readers.
//   bench_model_fwd_bwd [--models smollm,vit] [--threads N] [--batch 1] [--seq 256]
//                       [--vit-batch 2] [--iters 5] [--warmup 1] [--peak-sizes 1024,2048,4096]
// Run it as the CLI runs: OMP_WAIT_POLICY=PASSIVE (LIBTORCH.md), e.g. --threads 2.
//
// FLOPs: a matmul (M x K) @ (K x N) costs 2*M*K*N. Forward counts every linear layer (the LM head
// included: SmolLM ties it to the embedding, it is still a (T x D) @ (D x V) matmul), the patch
// embedding as a matmul, and the attention products Q K^T and A V in full (2*T*T*Dh each per head,
// no causal halving: the math kernel computes the whole square). Backward counts 2x forward (input
// and weight gradients, both operands of the attention products), except the patch embedding, whose
// input (the pixels) needs no gradient: 1x. Not counted: embedding lookups, norms, RoPE,
// activations, softmax, the loss. Shape letters: B batch, T tokens, D width, V vocab.
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "core/runtime.h"
#include "models/decoder.h"
#include "models/hf_config.h"
#include "models/vit.h"

namespace {

using namespace vlm;
using bench::load_1m;
using bench::median;
using bench::process_cpu_seconds;
using bench::split_list;
using Clock = std::chrono::steady_clock;

// The shape fields of HuggingFaceTB/SmolLM-135M-Instruct's config.json (the rest are the defaults).
const char* const kSmolLmConfig = R"({
  "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
  "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152, "tie_word_embeddings": true,
  "rope_theta": 10000.0, "rms_norm_eps": 1e-05, "max_position_embeddings": 2048, "hidden_act": "silu",
  "attention_bias": false, "mlp_bias": false, "initializer_range": 0.02})";

// google/vit-base-patch16-224's config.json.
const char* const kVitConfig = R"({
  "model_type": "vit", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
  "intermediate_size": 3072, "hidden_act": "gelu", "image_size": 224, "patch_size": 16, "num_channels": 3,
  "qkv_bias": true, "layer_norm_eps": 1e-12, "initializer_range": 0.02})";

struct Args {
  std::vector<std::string> models = {"smollm", "vit"};
  int threads = 0;
  int64_t batch = 1, seq = 256, vit_batch = 2, iters = 5, warmup = 1;
  std::vector<int64_t> peak_sizes = {1024, 2048, 4096};
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
    const std::string v = argv[++i];
    if (k == "--models") a.models = split_list(v);
    else if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--batch") a.batch = std::stoll(v);
    else if (k == "--seq") a.seq = std::stoll(v);
    else if (k == "--vit-batch") a.vit_batch = std::stoll(v);
    else if (k == "--iters") a.iters = std::stoll(v);
    else if (k == "--warmup") a.warmup = std::stoll(v);
    else if (k == "--peak-sizes") {
      a.peak_sizes.clear();
      for (const auto& n : split_list(v)) a.peak_sizes.push_back(std::stoll(n));
    } else {
      throw std::invalid_argument("unknown option " + k);
    }
  }
  if (a.batch < 1 || a.seq < 2 || a.vit_batch < 1 || a.iters < 1 || a.warmup < 0)
    throw std::invalid_argument("--batch, --vit-batch, --iters >= 1, --seq >= 2, --warmup >= 0");
  for (const auto& m : a.models)
    if (m != "smollm" && m != "vit") throw std::invalid_argument("unknown model '" + m + "' (smollm, vit)");
  return a;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The best fp32 GFLOP/s of (n x n) @ (n x n) over the sizes, 3 timed runs each after one warm-up;
// also the best per CPU-second (per wall-second divided by the cores in use, when nothing else runs).
nlohmann::json gemm_peak(const std::vector<int64_t>& sizes) {
  double best = 0, best_cpu = 0;
  int64_t best_n = 0;
  for (const int64_t n : sizes) {
    const at::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
    at::Tensor c = at::mm(a, b);
    for (int r = 0; r < 3; ++r) {
      const double cpu0 = process_cpu_seconds();
      const auto t0 = Clock::now();
      c = at::mm(a, b);
      const double gflop = 2.0 * static_cast<double>(n * n * n) * 1e-9;
      const double gflops = gflop / seconds_since(t0);
      best_cpu = std::max(best_cpu, gflop / (process_cpu_seconds() - cpu0));
      if (gflops > best) {
        best = gflops;
        best_n = n;
      }
    }
  }
  return {{"gflops", best}, {"n", best_n}, {"gflops_per_cpu_s", best_cpu}};
}

struct Timing {
  double fwd_s = 0, bwd_s = 0, step_s = 0;  // medians over the timed iterations
  double step_cpu_s = 0;                    // median process CPU seconds per step
};

// `warmup` untimed then `iters` timed steps of: zero grads, forward to a scalar loss, backward.
Timing time_steps(torch::nn::Module& model, const std::function<at::Tensor()>& loss, int64_t warmup, int64_t iters) {
  std::vector<double> fwd, bwd, step, cpu;
  for (int64_t i = 0; i < warmup + iters; ++i) {
    model.zero_grad(/*set_to_none=*/true);
    const double cpu0 = process_cpu_seconds();
    const auto t0 = Clock::now();
    const at::Tensor l = loss();
    const double f = seconds_since(t0);
    l.backward();
    const double s = seconds_since(t0);
    if (i < warmup) continue;
    fwd.push_back(f);
    bwd.push_back(s - f);
    step.push_back(s);
    cpu.push_back(process_cpu_seconds() - cpu0);
  }
  return {median(fwd), median(bwd), median(step), median(cpu)};
}

nlohmann::json report(const Timing& t, double fwd_flops, double bwd_flops, int64_t params) {
  return {{"params", params},
          {"fwd_ms", 1e3 * t.fwd_s},
          {"bwd_ms", 1e3 * t.bwd_s},
          {"step_ms", 1e3 * t.step_s},
          {"fwd_gflop", fwd_flops * 1e-9},
          {"bwd_gflop", bwd_flops * 1e-9},
          {"step_cpu_s", t.step_cpu_s},
          {"gflops", (fwd_flops + bwd_flops) / t.step_s * 1e-9},
          {"gflops_per_cpu_s", (fwd_flops + bwd_flops) / t.step_cpu_s * 1e-9},
          {"fwd_gflops", fwd_flops / t.fwd_s * 1e-9}};
}

int64_t count_params(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

nlohmann::json bench_smollm(const Args& a) {
  const auto cfg = models::DecoderConfig::from_hf(
      models::HfConfig::from_json(nlohmann::json::parse(kSmolLmConfig), "SmolLM-135M-Instruct config.json"));
  cfg.validate();
  models::DecoderLM lm(cfg);
  lm->train();
  const int64_t B = a.batch, T = a.seq, D = cfg.hidden_size, V = cfg.vocab_size;
  const at::Tensor ids = torch::randint(0, V, {B, T + 1}, torch::kLong);  // (B, T + 1): inputs and shifted targets
  const at::Tensor inputs = ids.slice(1, 0, T), targets = ids.slice(1, 1, T + 1).reshape({B * T});
  auto loss = [&] {
    models::DecoderInput in;
    in.input_ids = inputs;
    const at::Tensor logits = lm->forward(in).logits;  // (B, T, V)
    return torch::nn::functional::cross_entropy(logits.reshape({B * T, V}), targets);
  };
  const Timing t = time_steps(*lm, loss, a.warmup, a.iters);

  const double tokens = static_cast<double>(B * T), Dh = static_cast<double>(cfg.head_dim);
  const double H = static_cast<double>(cfg.num_attention_heads), Hkv = static_cast<double>(cfg.num_key_value_heads);
  const double Dd = static_cast<double>(D), I = static_cast<double>(cfg.intermediate_size);
  const double L = static_cast<double>(cfg.num_hidden_layers);
  const double layer_weights = Dd * H * Dh + 2 * Dd * Hkv * Dh + H * Dh * Dd + 3 * Dd * I;  // q, k, v, o, gate/up/down
  const double linear = 2 * tokens * (L * layer_weights + Dd * static_cast<double>(V));    // + lm head
  const double attention = L * 4 * static_cast<double>(B) * static_cast<double>(T * T) * H * Dh;
  const double fwd = linear + attention;
  nlohmann::json out = report(t, fwd, 2 * fwd, count_params(*lm));
  out["batch"] = B;
  out["seq"] = T;
  out["tokens_per_s"] = tokens / t.step_s;
  out["lm_head_gflop_fwd"] = 2 * tokens * Dd * static_cast<double>(V) * 1e-9;
  out["attention_gflop_fwd"] = attention * 1e-9;
  return out;
}

nlohmann::json bench_vit(const Args& a) {
  const auto cfg = models::ViTConfig::from_hf(
      models::HfConfig::from_json(nlohmann::json::parse(kVitConfig), "vit-base-patch16-224 config.json"));
  cfg.validate();
  models::ViTModel vit(cfg);
  vit->train();
  const int64_t B = a.vit_batch;
  const at::Tensor pixels = torch::randn({B, cfg.num_channels, cfg.image_size, cfg.image_size});  // (B, 3, 224, 224)
  auto loss = [&] { return vit->forward(pixels).square().mean(); };  // (B, 1 + P, D) -> scalar
  const Timing t = time_steps(*vit, loss, a.warmup, a.iters);

  const double P = static_cast<double>(cfg.num_patches()), N = P + 1, D = static_cast<double>(cfg.hidden_size);
  const double I = static_cast<double>(cfg.intermediate_size), L = static_cast<double>(cfg.num_hidden_layers);
  const double patch = 2 * P * static_cast<double>(cfg.num_channels * cfg.patch_size * cfg.patch_size) * D;
  const double layer = 2 * N * (4 * D * D + 2 * D * I) + 4 * N * N * D;  // q, k, v, o, FFN; QK^T and AV
  const double per_image_fwd = patch + L * layer;
  const double per_image_bwd = patch + 2 * L * layer;
  nlohmann::json out = report(t, static_cast<double>(B) * per_image_fwd, static_cast<double>(B) * per_image_bwd,
                              count_params(*vit));
  out["batch"] = B;
  out["tokens"] = static_cast<int64_t>(N);
  out["images_per_s"] = static_cast<double>(B) / t.step_s;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    runtime::configure_threads(a.threads);
    runtime::seed_everything(0);
    const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
    nlohmann::json out = {{"bench", "model_fwd_bwd"},
                          {"dtype", "float32"},
                          {"threads", torch::get_num_threads()},
                          {"omp_wait_policy", wait_policy != nullptr ? wait_policy : "unset"},
                          {"load_1m_start", load_1m()}};
    const nlohmann::json peak_before = gemm_peak(a.peak_sizes);
    for (const auto& m : a.models) out[m] = m == "smollm" ? bench_smollm(a) : bench_vit(a);
    const nlohmann::json peak_after = gemm_peak(a.peak_sizes);
    auto higher = [&](const char* key) {
      return std::max(peak_before[key].get<double>(), peak_after[key].get<double>());
    };
    const double best = higher("gflops"), best_cpu = higher("gflops_per_cpu_s");
    for (const auto& m : a.models) {
      out[m]["fraction_of_peak"] = out[m]["gflops"].get<double>() / best;
      out[m]["fraction_of_peak_per_cpu_s"] = out[m]["gflops_per_cpu_s"].get<double>() / best_cpu;
    }
    out["gemm_peak_gflops"] = best;
    out["gemm_peak_gflops_per_cpu_s"] = best_cpu;
    out["gemm_peak_before"] = peak_before;
    out["gemm_peak_after"] = peak_after;
    out["load_1m_end"] = load_1m();
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_model_fwd_bwd: " << e.what() << "\n";
    return 1;
  }
}
