// Data parallel through c10d (see distributed.h). Collectives follow torch.distributed's
// semantics; the bucketed gradient all-reduce is the part of DistributedDataParallel that a
// C++ program needs (LibTorch ships no C++ DDP), and the gather-with-gradient is OpenCLIP's.
#include "train/distributed.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>
// Gloo where its headers are reachable (Debian: libgloo-dev; a LibTorch that ships them), NCCL
// where LibTorch was built with it and nccl.h is reachable (a pip wheel keeps it in the
// nvidia-nccl package). A build with neither refuses WORLD_SIZE > 1 with a clear message.
#if defined(USE_C10D_GLOO) && __has_include(<gloo/algorithm.h>)
#define VLM_HAS_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(USE_C10D_NCCL) && __has_include(<nccl.h>)
#define VLM_HAS_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <map>

#include "core/error.h"
#include "core/log.h"
#include "core/torch_compat.h"

namespace vlm::train {

struct Distributed::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<compat::CommBackend> group;
  std::string backend = "none";
  c10::Device device = c10::Device(c10::kCPU);  // where this backend's own small tensors live (NCCL: CUDA only)
};

namespace {

using Backend = compat::CommBackend;

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  if (*end != '\0' || parsed < 0 || parsed > 1'000'000) {
    throw Error(vlm::str("environment variable ", name, "='", value, "' is not a non-negative integer"),
                "set it as torchrun does, e.g. RANK=0 WORLD_SIZE=2");
  }
  return static_cast<int>(parsed);
}

void wait(const c10::intrusive_ptr<c10d::Work>& work) {
  if (!work->wait()) throw Error("c10d collective did not complete");
}

// Autograd all_gather: forward concatenates every rank's tensor along dim 0; backward sums the
// incoming gradient over ranks (each rank's loss depends on every slice) and keeps this rank's
// slice, which is reduce-scatter expressed as all-reduce + narrow (Gloo on 1.13 has no
// reduce_scatter).
struct GatherWithGrad : public torch::autograd::Function<GatherWithGrad> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input,
                            const c10::intrusive_ptr<Backend>& group, int64_t rank, int64_t world) {
    ctx->saved_data["group"] = c10::IValue::make_capsule(group);
    ctx->saved_data["rank"] = rank;
    ctx->saved_data["rows"] = input.size(0);
    at::Tensor local = input.contiguous();
    std::vector<at::Tensor> inputs{local};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int64_t r = 0; r < world; ++r) outputs[0].push_back(at::empty_like(local));
    wait(group->allgather(outputs, inputs));
    return at::cat(outputs[0], 0);  // (world * rows, ...)
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto group = c10::static_intrusive_pointer_cast<Backend>(ctx->saved_data["group"].toCapsule());
    const int64_t rank = ctx->saved_data["rank"].toInt();
    const int64_t rows = ctx->saved_data["rows"].toInt();
    std::vector<at::Tensor> buffer{grads[0].contiguous().clone()};
    wait(group->allreduce(buffer));
    return {buffer[0].narrow(0, rank * rows, rows), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool data_parallel_available() {
#if defined(VLM_HAS_GLOO) || defined(VLM_HAS_NCCL)
  return true;
#else
  return false;
#endif
}

DistEnv dist_env_from_environment() {
  DistEnv env;
  env.world_size = env_int("WORLD_SIZE", 1);
  env.rank = env_int("RANK", 0);
  env.local_rank = env_int("LOCAL_RANK", env.rank);
  env.master_port = env_int("MASTER_PORT", env.master_port);
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') env.master_addr = addr;
  if (const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE"); agent != nullptr) {
    env.use_agent_store = std::string_view(agent) == "True" || std::string_view(agent) == "true" ||
                          std::string_view(agent) == "1";
  }
  env.restart_count = env_int("TORCHELASTIC_RESTART_COUNT", 0);
  if (env.world_size < 1) throw Error("WORLD_SIZE must be at least 1");
  if (env.rank >= env.world_size) {
    throw Error(vlm::str("RANK=", env.rank, " is not below WORLD_SIZE=", env.world_size),
                "launch with torchrun, or set RANK in 0..WORLD_SIZE-1 for each process");
  }
  if (env.master_port < 1 || env.master_port > 65535) throw Error(vlm::str("MASTER_PORT=", env.master_port, " is not a port"));
  return env;
}

Distributed::Distributed(const DistEnv& env, bool cuda, std::chrono::milliseconds timeout)
    : env_(env), impl_(std::make_unique<Impl>()) {
  if (!enabled()) return;
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0 && !env.use_agent_store;  // else torchrun's agent is the server
    store_options.numWorkers = static_cast<size_t>(env.world_size);
    store_options.waitWorkers = !env.use_agent_store;
    store_options.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    impl_->store = tcp;
    if (env.use_agent_store) {
      impl_->store = c10::make_intrusive<c10d::PrefixStore>(str("/worker/attempt_", env.restart_count), tcp);
    }
#ifdef VLM_HAS_NCCL
    if (cuda) {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, env.rank, env.world_size, options);
      impl_->backend = "nccl";
      impl_->device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
    }
#endif
#ifdef VLM_HAS_GLOO
    if (!impl_->group) {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr));
      options->threads = 2;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env.rank, env.world_size, options);
      impl_->backend = "gloo";
    }
#endif
    if (!impl_->group) {
      throw Error("this build of vlm has no c10d backend for data parallelism (neither Gloo nor NCCL headers were found)",
                  "build against a LibTorch with Gloo headers (Debian: libgloo-dev) or, on GPUs, with nccl.h reachable");
    }
  } catch (const c10::Error& e) {
    throw Error(vlm::str("rank ", env.rank, " of ", env.world_size, ": cannot join the process group at ",
                    env.master_addr, ":", env.master_port, ": ", e.what_without_backtrace()),
                "check MASTER_ADDR/MASTER_PORT and that every rank was started");
  }
  log::info("data parallel: rank ", env.rank, " of ", env.world_size, " (", impl_->backend, ")");
}

Distributed::~Distributed() = default;

std::string Distributed::backend_name() const { return impl_->backend; }

void Distributed::all_reduce_gradients(const std::vector<at::Tensor>& params, GradReduction reduction,
                                       int64_t bucket_bytes) const {
  if (!enabled()) return;
  std::vector<at::Tensor> trainable;
  for (const at::Tensor& p : params) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  // Which parameters have a gradient on some rank. One left without a gradient on every rank
  // (e.g. the ITM head while itm_weight is 0) stays without one, as on one process, where the
  // optimizer then skips it: a zero gradient would still get AdamW's weight decay.
  at::Tensor has_grad = at::zeros({static_cast<int64_t>(trainable.size())}, at::kFloat);  // (n,)
  for (size_t i = 0; i < trainable.size(); ++i) {
    if (trainable[i].grad().defined()) has_grad[static_cast<int64_t>(i)] = 1.0f;
  }
  std::vector<at::Tensor> flags{has_grad.to(impl_->device)};
  wait(impl_->group->allreduce(flags));
  has_grad = flags[0].cpu();
  const float* any_rank = has_grad.data_ptr<float>();
  // Buckets keyed by (device, dtype) in parameter order, so every rank builds the same layout.
  std::map<std::pair<std::string, int>, std::vector<std::vector<at::Tensor>>> buckets;
  std::vector<std::pair<std::string, int>> order;
  std::map<std::pair<std::string, int>, int64_t> filled;
  for (size_t i = 0; i < trainable.size(); ++i) {
    const at::Tensor& p = trainable[i];
    if (any_rank[i] == 0.0f) continue;
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);  // another rank has one
    const at::Tensor& g = p.grad();
    const auto key = std::make_pair(g.device().str(), static_cast<int>(g.scalar_type()));
    auto& list = buckets[key];
    const int64_t bytes = g.numel() * static_cast<int64_t>(g.element_size());
    if (list.empty() || filled[key] + bytes > bucket_bytes) {
      if (list.empty()) order.push_back(key);
      list.emplace_back();
      filled[key] = 0;
    }
    list.back().push_back(g);
    filled[key] += bytes;
  }
  const double scale = reduction == GradReduction::kMean ? 1.0 / world_size() : 1.0;
  for (const auto& key : order) {
    for (const auto& bucket : buckets[key]) {
      std::vector<at::Tensor> flat_views;
      flat_views.reserve(bucket.size());
      for (const at::Tensor& g : bucket) flat_views.push_back(g.reshape({-1}));  // (numel,)
      std::vector<at::Tensor> flat{at::cat(flat_views)};                       // (sum numel,)
      wait(impl_->group->allreduce(flat));
      if (scale != 1.0) flat[0].mul_(scale);
      int64_t offset = 0;
      for (const at::Tensor& g : bucket) {
        g.copy_(flat[0].narrow(0, offset, g.numel()).view_as(g));  // back to the grad's shape
        offset += g.numel();
      }
    }
  }
}

void Distributed::broadcast_parameters(const std::vector<at::Tensor>& tensors) const {
  if (!enabled()) return;
  torch::NoGradGuard no_grad;
  for (const at::Tensor& t : tensors) {
    const at::Tensor local = t.is_contiguous() ? t.detach() : t.detach().contiguous();
    // Sent as bytes: an exact copy of any dtype, whichever of them the backend can reduce.
    std::vector<at::Tensor> buffer{local.reshape({-1}).view(at::kByte)};  // (numel * element_size,)
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    wait(impl_->group->broadcast(buffer, options));
    if (!t.is_contiguous()) t.detach().copy_(local);
  }
}

void Distributed::all_reduce_sum_(const at::Tensor& tensor) const {
  if (!enabled()) return;
  TORCH_CHECK(tensor.is_contiguous(), "all_reduce_sum_ needs a contiguous tensor");
  std::vector<at::Tensor> buffer{tensor.detach()};
  wait(impl_->group->allreduce(buffer));
}

double Distributed::all_reduce_mean(double value) const {
  if (!enabled()) return value;
  at::Tensor t = at::full({1}, value, at::TensorOptions(at::kDouble).device(impl_->device));
  all_reduce_sum_(t);
  return t.item<double>() / world_size();
}

at::Tensor Distributed::all_gather(const at::Tensor& tensor) const {
  if (!enabled()) return tensor.detach();
  at::Tensor local = tensor.detach().contiguous();
  std::vector<at::Tensor> inputs{local};
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < world_size(); ++r) outputs[0].push_back(at::empty_like(local));
  wait(impl_->group->allgather(outputs, inputs));
  return at::cat(outputs[0], 0);  // (world * d0, ...)
}

at::Tensor Distributed::all_gather_with_grad(const at::Tensor& tensor) const {
  if (!enabled()) return tensor;
  return GatherWithGrad::apply(tensor, impl_->group, static_cast<int64_t>(rank()),
                               static_cast<int64_t>(world_size()));
}

double sum_tokens_across_ranks(const at::Tensor& tokens, const Distributed* dist) {
  if (dist == nullptr || !dist->enabled()) return 1.0;
  dist->all_reduce_sum_(tokens);
  return static_cast<double>(dist->world_size());
}

c10::Device Distributed::collective_device() const { return impl_ ? impl_->device : c10::Device(c10::kCPU); }

void Distributed::barrier() const {
  if (!enabled()) return;
  wait(impl_->group->barrier());
}

}  // namespace vlm::train
