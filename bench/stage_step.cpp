// One training step of stage 1 or stage 2 at the mission's real sizes, with random weights and
// synthetic fixed-shape batches, through the trainer's own pieces: the task's forward (ViT
// frozen under no-grad, Q-Former, adapter, LM with LoRA r=64 alpha=128 dropout 0.1 on every
// linear layer), bf16 autocast where asked, the losses, backward, the gradient norm and clip,
// the non-finite check (the step's one host sync) and the multi-tensor Adam/AdamW over the
// stage's parameter groups. Prints one JSON line: median step time, samples/s, peak memory
// (GPU: tensors' peak as torch.cuda.max_memory_allocated; CPU: the process's peak resident set).
// bench/python/baseline.py runs the same workload with transformers + peft.
//   bench_stage_step --stage 1|2 [--lm smollm|qwen3] [--batch 8] [--steps 20] [--warmup 5]
//                    [--device cpu|cuda] [--precision bf16|fp32] [--threads N]
//                    [--text-len 32] [--prompt-len 32] [--target-len 24]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/accelerator.h"
#include "core/runtime.h"
#include "core/torch_compat.h"
#include "stage_workloads.h"
#include "train/step_utils.h"

namespace {

using namespace vlm;
using namespace vlm::bench;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    runtime::configure_threads(a.threads);
    runtime::seed_everything(0);
    const c10::Device device = runtime::parse_device(a.device);
    const bool bf16 = a.precision == "bf16";
    Workload w = a.stage == 1 ? stage1(a, device) : stage2(a, device);
    train::ParamGroupOptions go;
    go.lr = w.lr;
    go.weight_decay = w.weight_decay;
    go.rules = w.rules;
    const auto groups = train::build_param_groups(*w.module, go);
    auto optimizer = train::make_optimizer(groups, {.kind = w.optimizer});
    std::vector<at::Tensor> params;
    int64_t trainable = 0;
    for (const auto& g : groups) {
      for (const auto& p : g.params) {
        params.push_back(p);
        trainable += p.numel();
      }
    }
    auto step = [&] {  // Trainer::train_step without the data loader
      train::zero_grads(params);
      at::Tensor loss;
      {
        compat::AutocastGuard autocast(device.type(), bf16);
        loss = w.loss();
      }
      loss.backward();
      const at::Tensor norm = train::clip_grad_norm(params, w.clip);
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
    const double step_ms = median(ms);
    nlohmann::json out = {{"impl", "cpp"},
                          {"what", a.stage == 1 ? "stage1" : "stage2"},
                          {"lm", a.stage == 1 ? "" : a.lm},
                          {"batch", a.batch},
                          {"device", device.str()},
                          {"precision", a.precision},
                          {"threads", torch::get_num_threads()},
                          {"step_ms", step_ms},
                          {"mean_step_ms", 1000.0 * total_s / static_cast<double>(a.steps)},
                          {"samples_per_s", static_cast<double>(a.batch) * 1000.0 / step_ms},
                          {"peak_gib", static_cast<double>(accelerator::peak_memory_bytes(device)) / (1024.0 * 1024.0 * 1024.0)},
                          {"trainable_params", trainable},
                          {"text_len", a.text_len},
                          {"prompt_len", a.prompt_len},
                          {"target_len", a.target_len}};
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_stage_step: " << e.what() << "\n";
    return 1;
  }
}
