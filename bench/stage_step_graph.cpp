// bench_stage_step with the forward, backward and gradient clipping of the step captured once
// in a CUDA graph and replayed (the batch has static shapes), the optimizer run eagerly after
// each replay: at batch 8 a step is thousands of small kernels, and a replay launches them all
// at once instead of one by one from the host. Same workloads and output as bench_stage_step,
// with "impl": "cpp-graph". Needs a CUDA build; elsewhere it says so and exits with 2.
//   bench_stage_step_graph --stage 1|2 [--lm smollm|qwen3] [--batch 8] [--steps 20] [--warmup 5]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/accelerator.h"
#include "core/runtime.h"
#include "core/torch_compat.h"
#include "stage_workloads.h"
#include "train/step_utils.h"

#ifdef VLM_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

int main(int argc, char** argv) {
#ifndef VLM_WITH_CUDA
  (void)argc;
  (void)argv;
  std::cerr << "bench_stage_step_graph: needs a CUDA build\n";
  return 2;
#else
  using namespace vlm;
  try {
    bench::Args a = bench::parse(argc, argv);
    if (a.device == "auto") a.device = "cuda";
    runtime::configure_threads(a.threads);
    runtime::seed_everything(0);
    const c10::Device device = runtime::parse_device(a.device);
    if (!device.is_cuda()) throw std::invalid_argument("CUDA graphs need --device cuda");
    const bool bf16 = a.precision == "bf16";
    bench::Workload w = a.stage == 1 ? bench::stage1(a, device) : bench::stage2(a, device);
    train::ParamGroupOptions go;
    go.lr = w.lr;
    go.weight_decay = w.weight_decay;
    go.rules = w.rules;
    const auto groups = train::build_param_groups(*w.module, go);
    auto optimizer = train::make_optimizer(groups, {.kind = w.optimizer});
    std::vector<at::Tensor> params;
    for (const auto& g : groups) params.insert(params.end(), g.params.begin(), g.params.end());
    at::Tensor loss, norm;
    auto forward_backward = [&] {
      {
        compat::AutocastGuard autocast(device.type(), bf16);
        loss = w.loss();
      }
      loss.backward();
      norm = train::clip_grad_norm(params, w.clip);
    };
    // Warm-up on a side stream (cuBLAS handles, allocator pools), then capture on it.
    c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, device.index());
    {
      c10::cuda::CUDAStreamGuard guard(side);
      for (int64_t i = 0; i < 3; ++i) {
        train::zero_grads(params);
        forward_backward();
        optimizer->step();
      }
    }
    accelerator::synchronize(device);
    at::cuda::CUDAGraph graph;
    {
      c10::cuda::CUDAStreamGuard guard(side);
      train::zero_grads(params);  // backward inside the capture allocates the gradients it rewrites on replay
      graph.capture_begin();
      forward_backward();
      graph.capture_end();
    }
    accelerator::synchronize(device);
    auto step = [&] {
      graph.replay();
      if (train::all_finite({loss, norm})) optimizer->step();
    };
    for (int64_t i = 0; i < a.warmup; ++i) step();
    accelerator::synchronize(device);
    accelerator::reset_peak_memory(device);
    std::vector<double> ms;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < a.steps; ++i) {
      const auto s = std::chrono::steady_clock::now();
      step();
      accelerator::synchronize(device);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
    }
    const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::sort(ms.begin(), ms.end());
    const double step_ms = ms[ms.size() / 2];
    std::cout << nlohmann::json{{"impl", "cpp-graph"},
                                {"what", a.stage == 1 ? "stage1" : "stage2"},
                                {"lm", a.stage == 1 ? "" : a.lm},
                                {"batch", a.batch},
                                {"device", device.str()},
                                {"precision", a.precision},
                                {"step_ms", step_ms},
                                {"mean_step_ms", 1000.0 * total_s / static_cast<double>(a.steps)},
                                {"samples_per_s", static_cast<double>(a.batch) * 1000.0 / step_ms},
                                {"peak_gib", static_cast<double>(accelerator::peak_memory_bytes(device)) / (1024.0 * 1024.0 * 1024.0)},
                                {"loss", loss.item<double>()},
                                {"text_len", a.text_len},
                                {"prompt_len", a.prompt_len},
                                {"target_len", a.target_len}}
                     .dump()
              << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_stage_step_graph: " << e.what() << "\n";
    return 1;
  }
#endif
}
