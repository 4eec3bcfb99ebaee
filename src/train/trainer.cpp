#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <csignal>
#include <filesystem>

#include "core/log.h"
#include "eval/run_files.h"
#include "io/atomic_file.h"
#include "io/jsonl.h"
#include "io/tensor_store.h"
#include "train/batches.h"
#include "train/distributed.h"
#include "train/metrics_log.h"
#include "train/schedule.h"
#include "train/step_utils.h"

namespace fs = std::filesystem;

namespace vlm::train {
namespace {

using Clock = std::chrono::steady_clock;

void on_signal(int) { Trainer::stop_requested().store(true); }

// sum + value as an fp64 device scalar (sum may be undefined: the first value).
at::Tensor add_on_device(const at::Tensor& sum, const at::Tensor& value) {
  const at::Tensor v = value.detach().to(at::kDouble);
  return sum.defined() ? sum + v : v;
}

// Drops metrics rows past `step` so a resumed run's log continues the interrupted one exactly.
void truncate_metrics(const std::string& path, int64_t step) {
  if (!fs::exists(path)) return;
  std::string kept;  // a line torn by the kill is dropped by the reader
  for (const auto& row : eval::run_files::read_metrics(path))
    if (row.step <= step) kept += eval::run_files::metrics_line(row) + "\n";
  io::write_file_atomic(path, kept);
}

at::Tensor cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_cpu_rng_state(const at::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

// rng.safetensors: "cpu" is rank 0's state (and a single process's), "cpu.rank1"... the others'.
std::string rng_key(int64_t rank) { return rank == 0 ? "cpu" : str("cpu.rank", rank); }

}  // namespace

std::atomic<bool>& Trainer::stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

void Trainer::install_signal_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

Trainer::Trainer(const config::RunConfig& config, std::string run_dir, Task& task, Distributed* dist)
    : config_(config),
      run_dir_(std::move(run_dir)),
      task_(task),
      dist_(dist),
      checkpointer_(run_dir_, config.schedule.save_every, config.schedule.keep_checkpoints),
      best_val_loss_(std::numeric_limits<double>::infinity()) {
  ParamGroupOptions options;
  options.lr = config.train.stage == config::Stage::kStage1 ? config.train.lr : config.train.lr_head;
  options.weight_decay = config.train.optimizer == config::OptimizerKind::kAdamW ? config.train.weight_decay : 0.0;
  options.rules = task_.param_rules();
  groups_ = build_param_groups(task_.module(), options);
  for (const auto& g : groups_) params_.insert(params_.end(), g.params.begin(), g.params.end());
  optimizer_ = make_optimizer(groups_, OptimizerOptions{config.train.optimizer});
  scheduler_ = std::make_unique<LrScheduler>(
      *optimizer_, ScheduleOptions{config.train.schedule, config.train.warmup_steps,
                                   config.train.steps, config.train.min_lr_ratio});
  guard_ = std::make_unique<NanGuard>(static_cast<int>(config.train.max_bad_steps));
  int64_t n_params = 0;
  for (const auto& p : params_) n_params += p.numel();
  log::info("trainable: ", n_params, " parameters in ", groups_.size(), " groups");
  for (const auto& g : groups_) log::info("  group ", g.label, ": ", g.names.size(), " tensors, lr ", g.lr);
}

Trainer::~Trainer() = default;

FitResult Trainer::fit() {
  int64_t step = restore_latest();  // 0 when starting fresh
  const bool main = dist_ == nullptr || dist_->is_main();
  if (main) {
    truncate_metrics(run_dir_ + "/metrics.jsonl", step);
    logger_ = std::make_unique<MetricsLogger>(run_dir_, /*enabled=*/true);
  }
  FitResult result;
  while (step < config_.train.steps) {
    ++step;
    const bool stop = train_step(step);
    const bool last = step == config_.train.steps;
    maybe_log(step);
    maybe_evaluate(step, last);
    if (checkpointer_.due(step, last || stop)) save_checkpoint(step, /*is_best=*/false);
    if (stop) {
      log::warn("stopping at step ", step, " on request; resume with --resume ", run_dir_);
      result.interrupted = true;
      break;
    }
  }
  if (!result.interrupted && main) {
    const std::string export_dir = run_dir_ + "/export";
    io::write_dir_atomic(export_dir, [&](const std::string& tmp) { task_.export_to(tmp); });
    log::info("exported to ", export_dir);
  }
  result.steps = step;
  result.best_val_loss = best_val_loss_;
  if (auto latest = checkpointer_.latest()) result.last_checkpoint = *latest;
  return result;
}

bool Trainer::train_step(int64_t step) {
  const auto start = Clock::now();
  scheduler_->apply(step - 1);
  zero_grads(params_);
  StepResult r = task_.forward_backward(step, config_.train.grad_accum);
  if (dist_ != nullptr && dist_->enabled()) dist_->all_reduce_gradients(params_);
  const at::Tensor norm = clip_grad_norm(params_, config_.train.clip_grad_norm);
  // One host sync per step: the finite check decides whether the optimizer may step. Every rank
  // must take the same decision, or their weights part ways: a step is skipped everywhere when
  // any rank saw a non-finite loss or gradient norm. The stop request rides along in the same
  // collective: a signal may reach the ranks a step apart, and all of them must stop together
  // to take part in the final checkpoint's collective.
  bool finite = all_finite({r.loss, norm});
  bool stop = stop_requested().load();
  if (dist_ != nullptr && dist_->enabled()) {
    const at::Tensor flags = torch::tensor({finite ? 0.0 : 1.0, stop ? 1.0 : 0.0}, torch::kDouble)
                                 .to(dist_->collective_device());  // (2,) summed over ranks
    dist_->all_reduce_sum_(flags);
    const at::Tensor any = flags.cpu() > 0;
    finite = !any[0].item<bool>();
    stop = any[1].item<bool>();
  }
  if (guard_->admit(finite, step)) {
    optimizer_->step();
    task_.after_optimizer_step();
    loss_sum_ = add_on_device(loss_sum_, r.loss);
    ++loss_count_;
    last_grad_norm_ = norm;
    for (const auto& [k, v] : r.extra) extra_sums_[k] = add_on_device(extra_sums_[k], v);
  }
  samples_since_log_ += r.samples;
  seconds_since_log_ += std::chrono::duration<double>(Clock::now() - start).count();
  return stop;
}

void Trainer::maybe_log(int64_t step) {
  if (step % config_.schedule.log_every != 0 && step != config_.train.steps) return;
  const double loss = loss_count_ > 0 ? loss_sum_.item<double>() / static_cast<double>(loss_count_) : std::nan("");
  std::map<std::string, double> row = {{"train/loss", loss},
                                       {"train/grad_norm", last_grad_norm_.defined() ? last_grad_norm_.item<double>() : 0.0},
                                       {"lr", group_lrs(*optimizer_).front()},
                                       {"train/samples_per_s", samples_since_log_ / std::max(1e-9, seconds_since_log_)},
                                       {"train/data_wait_share", (data_wait_seconds() - data_wait_at_log_) / std::max(1e-9, seconds_since_log_)},
                                       {"train/skipped_steps", static_cast<double>(guard_->skipped())}};
  for (const auto& [k, v] : extra_sums_) row["train/" + k] = v.item<double>() / static_cast<double>(std::max<int64_t>(1, loss_count_));
  if (dist_ != nullptr && dist_->enabled()) {  // every rank's values, averaged (all ranks take part in the same order)
    row["train/loss"] = dist_->all_reduce_mean(loss);
    for (const auto& [k, v] : extra_sums_) row["train/" + k] = dist_->all_reduce_mean(row["train/" + k]);
  }
  if (logger_) {
    logger_->log(step, row);
    log::info("step ", step, "/", config_.train.steps, "  loss ", row["train/loss"], "  lr ", row["lr"], "  ",
              static_cast<int64_t>(row["train/samples_per_s"]), " samples/s  data wait ",
              static_cast<int>(100.0 * row["train/data_wait_share"]), "%");
  }
  loss_sum_ = at::Tensor();
  loss_count_ = 0;
  samples_since_log_ = 0;
  seconds_since_log_ = 0;
  data_wait_at_log_ = data_wait_seconds();
  extra_sums_.clear();
}

void Trainer::maybe_evaluate(int64_t step, bool last) {
  const int64_t every = config_.schedule.eval_every;
  if (!last && (every == 0 || step % every != 0)) return;
  std::map<std::string, double> metrics = task_.evaluate(step);
  if (dist_ != nullptr && dist_->enabled()) {
    for (auto& [k, v] : metrics) v = dist_->all_reduce_mean(v);
  }
  if (logger_) {
    logger_->log(step, metrics);
    std::string line = "eval step " + std::to_string(step);
    for (const auto& [k, v] : metrics) line += str("  ", k, " ", v);
    log::info(line);
    for (const auto& s : task_.samples()) log::info("  ", s);
  }
  const auto it = metrics.find("val/loss");
  if (it != metrics.end() && it->second < best_val_loss_) {
    best_val_loss_ = it->second;
    save_checkpoint(step, /*is_best=*/true);
  }
}

void Trainer::save_checkpoint(int64_t step, bool is_best) {
  // Every rank's RNG state (ITM negatives, LoRA dropout draw from it): rank 0 writes them all,
  // so that each rank resumes its own stream. A collective: every rank comes here.
  at::Tensor rng = cpu_rng_state().unsqueeze(0);  // (1, N)
  if (dist_ != nullptr && dist_->enabled()) rng = dist_->all_gather(rng.to(dist_->collective_device())).cpu();  // (W, N)
  if (dist_ != nullptr && !dist_->is_main()) return;
  checkpointer_.save(
      step,
      [&](const std::string& dir) {
        // Trainable tensors only: frozen parts (a pretrained ViT, the LM's base weights) are
        // rebuilt from their own folders and would only multiply the checkpoint's size.
        std::vector<std::pair<std::string, at::Tensor>> tensors;
        for (const auto& item : task_.module().named_parameters()) {
          if (item.value().requires_grad()) tensors.emplace_back(item.key(), item.value());
        }
        io::save_tensors(dir + "/model.safetensors", tensors);
        save_optimizer_state(*optimizer_, groups_, dir + "/optimizer.pt");
        std::vector<std::pair<std::string, at::Tensor>> states = {{"cpu", rng[0]}};
        for (int64_t r = 1; r < rng.size(0); ++r) states.emplace_back(rng_key(r), rng[r]);
        io::save_tensors(dir + "/rng.safetensors", states);
        nlohmann::json state = {{"step", step},
                                {"best_val_loss", std::isfinite(best_val_loss_) ? nlohmann::json(best_val_loss_) : nlohmann::json()},
                                {"skipped_steps", guard_->skipped()},
                                {"task", task_.state()}};
        io::write_file_atomic(dir + "/state.json", state.dump(2));
        io::write_file_atomic(dir + "/config.yaml", config::to_yaml(config_));
      },
      is_best);
}

std::optional<std::string> Trainer::pick_checkpoint() const {
  if (!resume_checkpoint_.empty()) {
    Checkpointer::verify(resume_checkpoint_, VerifyDepth::kContent);
    if (auto newest = checkpointer_.newest_complete(); newest && *newest != resume_checkpoint_ &&
                                                        fs::path(*newest).filename() > fs::path(resume_checkpoint_).filename()) {
      log::warn("resuming from ", resume_checkpoint_, " as asked; the newer ", fs::path(*newest).filename().string(),
                " is replaced when training reaches its step");
    }
    return resume_checkpoint_;
  }
  std::vector<std::string> rejected;
  const auto newest = checkpointer_.newest_complete(&rejected);
  for (const auto& why : rejected) log::warn("checkpoint ", why);
  if (!newest) {
    if (!rejected.empty()) {
      throw Error(str("no complete checkpoint in ", checkpointer_.dir(), " to resume from (", rejected.size(),
                      " damaged: ", rejected.front(), ")"),
                  "start a new run (another run.name), or move the damaged checkpoints away to start this one over");
    }
    return std::nullopt;
  }
  std::error_code ec;
  const fs::path latest = fs::read_symlink(checkpointer_.dir() + "/latest", ec);
  if (ec || latest.filename() != fs::path(*newest).filename()) {
    log::warn("resuming from the newest complete checkpoint ", *newest, ec ? " (there is no `latest`)"
                                                                          : " instead of `latest` (" + latest.string() + ")");
  }
  return newest;
}

int64_t Trainer::restore_latest() {
  if (dist_ == nullptr || dist_->is_main()) {
    for (const auto& name : checkpointer_.clean_leftovers()) log::warn("removed ", name, " left by an interrupted write");
  }
  const auto picked = pick_checkpoint();
  if (!picked) return 0;
  const std::string& dir = *picked;
  log::info("resuming from ", dir);
  const auto store = io::TensorStore::open(dir + "/model.safetensors");
  torch::NoGradGuard no_grad;
  for (auto& item : task_.module().named_parameters()) {
    if (item.value().requires_grad()) item.value().copy_(store.get(item.key()));
  }
  load_optimizer_state(*optimizer_, groups_, dir + "/optimizer.pt");
  const auto rng = io::TensorStore::open(dir + "/rng.safetensors");
  const int rank = dist_ != nullptr ? dist_->rank() : 0;
  if (!rng.contains(rng_key(rank))) {
    log::warn("the checkpoint has no RNG state for rank ", rank, " (saved by fewer ranks): rank 0's is used");
  }
  set_cpu_rng_state(rng.get(rng.contains(rng_key(rank)) ? rng_key(rank) : "cpu").clone());
  const auto state = io::read_json_file(dir + "/state.json");
  const auto& best = state.at("best_val_loss");
  best_val_loss_ = best.is_number() ? best.get<double>() : std::numeric_limits<double>::infinity();
  task_.restore(state.at("task"));
  return state.at("step").get<int64_t>();
}

}  // namespace vlm::train
