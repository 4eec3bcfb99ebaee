// The continuous-batching decode loop (see scheduler.h), after llama.cpp's server slots and
// vLLM's scheduler: admit waiting requests between steps, one batched forward for every running
// sequence, per-row sampling as models/generation.cpp does it for one row.
// Shape letters: B running sequences, V vocab.
#include "serve/scheduler.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <limits>

#include "core/log.h"
#include "models/generation.h"
#include "serve/batched_decode.h"
#include "serve/model_host.h"
#include "serve/text_stream.h"

namespace vlm::serve {

bool Job::next(JobEvent& event, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
  event = std::move(events_.front());
  events_.pop_front();
  return true;
}

void Job::push(JobEvent event) {
  {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

struct Scheduler::Slot {
  std::shared_ptr<Job> job;
  TextStream stream;
  std::vector<int64_t> tokens;  // generated so far (the stop token included)
  at::Generator gen;
  int64_t last = 0;
};

Scheduler::Scheduler(ModelHost& host, int parallel, int max_queue)
    : host_(host), parallel_(std::max(1, parallel)), max_queue_(std::max(0, max_queue)), thread_([this] { loop(); }) {}

Scheduler::~Scheduler() { drain_and_stop(); }

bool Scheduler::submit(const std::shared_ptr<Job>& job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    // Free slots take requests at once; beyond them `max_queue` may wait. Counted from submission
    // to the finishing event, so a client that sends its next request on reading a reply never
    // finds its own finished one still counted.
    if (in_flight_ >= parallel_ + max_queue_) return false;
    ++in_flight_;
    pending_.push_back(job);
    queued_ = static_cast<int>(pending_.size());
  }
  cv_.notify_all();
  return true;
}

void Scheduler::end_job(Job& job, JobEvent event) {
  job.finished_at = Clock::now();
  --in_flight_;
  job.push(std::move(event));
}

void Scheduler::drain_and_stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Scheduler::accept_token(Slot& slot, const at::Tensor& row_logits, int64_t greedy) {
  const SamplingParams& p = slot.job->params;
  const auto eos = host_.generation_defaults().eos_token_ids;
  int64_t next = greedy;  // the batch's argmax of this row, when plain greedy decoding
  at::Tensor logits = row_logits;
  if (static_cast<int64_t>(slot.tokens.size()) < p.min_tokens && !eos.empty()) {
    logits = logits.index_fill(1, torch::tensor(eos, torch::kLong).to(logits.device()),
                               -std::numeric_limits<float>::infinity());  // (1, V)
    next = -1;
  }
  if (p.temperature > 0 || p.repetition_penalty != 1.0 || next < 0) {
    // As models/generation.cpp for one row: penalty over the generated tokens, then the warpers.
    const at::Tensor seen =
        slot.tokens.empty() ? at::Tensor() : torch::tensor(slot.tokens, torch::kLong).unsqueeze(0);  // (1, L)
    at::Tensor scores = models::apply_repetition_penalty(logits, seen, p.repetition_penalty);  // (1, V)
    if (p.temperature > 0) {
      scores = models::top_p_filter(models::top_k_filter(scores / p.temperature, p.top_k), p.top_p);
      const at::Tensor probs = scores.softmax(-1).to(at::kCPU);  // (1, V)
      next = torch::multinomial(probs, /*num_samples=*/1, /*replacement=*/false, slot.gen).item<int64_t>();
    } else {
      next = scores.argmax(-1).item<int64_t>();
    }
  }
  Job& job = *slot.job;
  if (slot.tokens.empty()) job.first_token = Clock::now();
  slot.tokens.push_back(next);
  slot.last = next;
  ++tokens_;
  job.completion_tokens = static_cast<int64_t>(slot.tokens.size());
  const bool at_eos = std::find(eos.begin(), eos.end(), next) != eos.end();
  const bool at_length = static_cast<int64_t>(slot.tokens.size()) >= p.max_tokens;
  const std::string text = host_.decode(slot.tokens);
  JobEvent event;
  if (!at_eos && !at_length) {
    event.delta = slot.stream.update(text);
    if (!slot.stream.stopped()) {
      if (!event.delta.empty()) job.push(std::move(event));
      return false;
    }
  } else {
    event.delta = slot.stream.finish(text);
  }
  event.finished = true;
  event.finish_reason = at_eos || slot.stream.stopped() ? "stop" : "length";
  job.text = slot.stream.sent();
  end_job(job, std::move(event));
  return true;
}

void Scheduler::admit(std::vector<std::unique_ptr<Slot>>& active) {
  while (static_cast<int>(active.size()) < parallel_) {
    std::shared_ptr<Job> job;
    {
      std::lock_guard lock(mu_);
      if (pending_.empty()) return;
      job = pending_.front();
      pending_.pop_front();
      queued_ = static_cast<int>(pending_.size());
    }
    if (job->cancelled()) {
      end_job(*job, {.delta = "", .finished = true, .finish_reason = "cancelled", .error = ""});
      continue;
    }
    auto slot = std::make_unique<Slot>(Slot{job, TextStream(job->params.stop), {},
                                            at::make_generator<at::CPUGeneratorImpl>(job->params.seed), 0});
    models::KVCache cache;
    try {
      const at::Tensor logits = host_.prefill(job->images, job->prompt_ids, cache);  // (1, V)
      if (job->params.max_tokens == 0) {
        end_job(*job, {.delta = "", .finished = true, .finish_reason = "length", .error = ""});
        continue;
      }
      if (accept_token(*slot, logits, /*greedy=*/-1)) continue;
    } catch (const std::exception& e) {
      log::warn("serve: a request failed in prefill: ", e.what());
      end_job(*job, {.delta = "", .finished = true, .finish_reason = "error", .error = e.what()});
      continue;
    }
    pending_cache_.push_back(std::move(cache));
    active.push_back(std::move(slot));
    busy_ = static_cast<int>(active.size());
  }
}

void Scheduler::loop() {
  torch::NoGradGuard no_grad;
  std::vector<std::unique_ptr<Slot>> active;
  BatchedCache batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty() || !active.empty(); });
      if (stopping_ && pending_.empty() && active.empty()) break;
    }
    // Leave: clients gone. Join: waiting requests, prefilled alone, appended as new rows.
    std::vector<int64_t> keep;
    std::vector<std::unique_ptr<Slot>> still;
    for (size_t i = 0; i < active.size(); ++i) {
      if (active[i]->job->cancelled()) {
        end_job(*active[i]->job, {.delta = "", .finished = true, .finish_reason = "cancelled", .error = ""});
        continue;
      }
      keep.push_back(static_cast<int64_t>(i));
      still.push_back(std::move(active[i]));
    }
    batch.keep_rows(keep);
    active = std::move(still);
    admit(active);
    for (auto& cache : pending_cache_) batch.add_row(cache);
    pending_cache_.clear();
    busy_ = static_cast<int>(active.size());
    if (active.empty()) continue;

    std::vector<int64_t> next;
    for (const auto& slot : active) next.push_back(slot->last);
    at::Tensor logits;  // (B, V)
    try {
      logits = batch.step(host_.lm(), torch::tensor(next, torch::kLong));
    } catch (const std::exception& e) {
      log::warn("serve: a decode step failed: ", e.what());
      for (auto& slot : active) end_job(*slot->job, {.delta = "", .finished = true, .finish_reason = "error", .error = e.what()});
      active.clear();
      batch.keep_rows({});
      continue;
    }
    ++steps_;
    keep.clear();
    still.clear();
    const at::Tensor greedy = logits.argmax(-1).to(at::kCPU);  // (B): one host copy for every greedy row
    const int64_t* greedy_ids = greedy.data_ptr<int64_t>();
    for (size_t i = 0; i < active.size(); ++i) {
      if (accept_token(*active[i], logits.narrow(0, static_cast<int64_t>(i), 1), greedy_ids[i])) continue;
      keep.push_back(static_cast<int64_t>(i));
      still.push_back(std::move(active[i]));
    }
    batch.keep_rows(keep);
    active = std::move(still);
    busy_ = static_cast<int>(active.size());
  }
}

}  // namespace vlm::serve
