// Continuous batching for `vlm serve`: one decode thread runs up to `parallel` sequences in one
// batched decoder forward per step (serve/batched_decode.h). A request is prefilled alone (B=1, as
// `vlm caption` does), joins the batch between steps and leaves when it ends or its client goes
// away; sampling is per row with the request's own settings and seeded generator, so a greedy
// reply does not depend on what else runs. Requests beyond the slots wait in a bounded queue.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>

#include "data/image.h"
#include "models/decoder.h"

namespace vlm::serve {

class ModelHost;

struct SamplingParams {
  int64_t max_tokens = 16;             // e.g. 64
  double temperature = 0.0;            // 0 = greedy
  double top_p = 1.0;
  int64_t top_k = 0;
  double repetition_penalty = 1.0;
  uint64_t seed = 0;
  int64_t min_tokens = 0;              // stop tokens are masked before this many (vLLM's min_tokens)
  std::vector<std::string> stop;       // stop strings, e.g. {"\n\n"}
};

// What the decode thread reports to the request's handler.
struct JobEvent {
  std::string delta;           // new text (may be empty)
  bool finished = false;
  std::string finish_reason;   // "stop" or "length" when finished; "error" with `error`
  std::string error;
};

using Clock = std::chrono::steady_clock;

// One chat request from its handler's point of view.
class Job {
 public:
  Job(std::vector<data::Image> images, std::vector<int64_t> prompt_ids, SamplingParams params)
      : images(std::move(images)), prompt_ids(std::move(prompt_ids)), params(std::move(params)) {}
  // Waits up to `timeout` for the next event; false when none came.
  bool next(JobEvent& event, std::chrono::milliseconds timeout);
  void cancel() { cancelled_ = true; }  // the client went away: the slot is freed at the next step
  bool cancelled() const { return cancelled_; }
  void push(JobEvent event);

  const std::vector<data::Image> images;
  const std::vector<int64_t> prompt_ids;
  const SamplingParams params;
  // Filled by the decode thread; read by the handler after the finishing event.
  std::atomic<int64_t> completion_tokens{0};
  std::string text;  // the final text (set before the finishing event)
  Clock::time_point submitted = Clock::now(), first_token{}, finished_at{};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<JobEvent> events_;
  std::atomic<bool> cancelled_{false};
};

class Scheduler {
 public:
  Scheduler(ModelHost& host, int parallel, int max_queue);
  ~Scheduler();
  // Queues a job; false when the queue is full (the caller answers 429).
  bool submit(const std::shared_ptr<Job>& job);
  // Finishes the running and queued jobs, then stops the thread.
  void drain_and_stop();
  int queue_depth() const { return queued_.load(); }
  int busy_slots() const { return busy_.load(); }
  int64_t tokens_generated() const { return tokens_.load(); }
  int64_t steps() const { return steps_.load(); }

 private:
  struct Slot;
  void loop();
  void admit(std::vector<std::unique_ptr<Slot>>& active);
  void end_job(Job& job, JobEvent event);  // the finishing event; frees the job's place
  // Picks the row's next token from its logits (1, V) (`greedy`: the row's argmax when known, else -1)
  // and reports the new text; true when the sequence has ended.
  bool accept_token(Slot& slot, const at::Tensor& logits, int64_t greedy);

  ModelHost& host_;
  const int parallel_, max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> pending_;
  bool stopping_ = false;
  std::atomic<int> queued_{0}, busy_{0}, in_flight_{0};
  std::atomic<int64_t> tokens_{0}, steps_{0};
  std::vector<models::KVCache> pending_cache_;  // prefilled this round, not in the batch yet
  std::thread thread_;
};

}  // namespace vlm::serve
