#include "train/demo.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "config/run_config.h"
#include "core/log.h"
#include "eval/report.h"
#include "eval/run_files.h"
#include "io/atomic_file.h"
#include "inference/evaluate.h"
#include "train/demo_data.h"
#include "train/distributed.h"
#include "train/local_ranks.h"
#include "train/run.h"

namespace fs = std::filesystem;

namespace vlm::train {
namespace {

// `vlm train` of one stage as `processes` data-parallel ranks of options.train_exe, each with
// 1/processes of the batch and of this process's threads. Rank 0 prints here; the others write
// to out/logs/NAME.rankN.log. Returns whether the ranks were interrupted.
bool train_ranks(const DemoOptions& options, const config::RunConfig& config, const std::string& config_path,
                 const std::vector<std::string>& overrides, bool resume) {
  const std::string dir = run_dir_of(config);
  const int world = options.processes;
  LocalRanksOptions ranks;
  ranks.exe = options.train_exe;
  ranks.args = resume ? std::vector<std::string>{"train", "--resume", dir}
                      : std::vector<std::string>{"train", "--config", config_path};
  for (const std::string& o : overrides) ranks.args.insert(ranks.args.end(), {"--set", o});
  // The same global batch; every rank validates on the same samples as one process would (its
  // validation batches are as small as its training ones, so it takes world times as many).
  ranks.args.insert(ranks.args.end(), {"--set", str("train.batch_size=", config.train.batch_size / world), "--set",
                                       str("schedule.eval_batches=", config.schedule.eval_batches * world)});
  ranks.world = world;
  const std::string logs = options.out_dir + "/logs";
  fs::create_directories(logs);
  ranks.log_paths.push_back("");
  for (int r = 1; r < world; ++r) ranks.log_paths.push_back(str(logs, "/", config.run.name, ".rank", r, ".log"));
  const int threads = std::max(1, at::get_num_threads() / world);
  ranks.env = {str("VLM_THREADS=", threads), str("OMP_NUM_THREADS=", threads)};
  const std::vector<int> status = run_local_ranks(ranks);
  for (size_t r = 0; r < status.size(); ++r) {
    if (status[r] == 0 || status[r] == 130) continue;
    throw Error(str("demo: training ", dir, " failed: rank ", r, " exited with status ", status[r]),
                r == 0 ? "its error is printed above" : "its output: " + ranks.log_paths[r]);
  }
  return std::any_of(status.begin(), status.end(), [](int s) { return s == 130; });
}

// Trains one stage unless its export is already there (a finished earlier demo), resuming an
// interrupted one.
std::string train_stage(const DemoOptions& options, const std::string& config_path,
                        const std::vector<std::string>& overrides) {
  const auto config = config::load_run_config(config_path, overrides);
  const std::string dir = run_dir_of(config);
  if (fs::exists(dir + "/export")) {
    log::info("demo: ", dir, " is already trained; delete it to train again");
    return dir;
  }
  const bool resume = fs::exists(dir + "/checkpoints/latest");
  const bool parallel = options.processes > 1 && config.train.batch_size % options.processes == 0 &&
                        data_parallel_available();
  const bool interrupted = parallel ? train_ranks(options, config, config_path, overrides, resume)
                                    : run_training(config, resume).interrupted;
  if (interrupted) throw Error("demo interrupted; run it again to continue where it stopped");
  return dir;
}

}  // namespace

int default_demo_processes() { return at::get_num_threads() >= 2 && data_parallel_available() ? 2 : 1; }

nlohmann::json run_demo(const DemoOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::string out = options.out_dir;
  const std::string configs = (options.config_dir.empty() ? std::string(VLM_CONFIG_DIR) : options.config_dir) + "/demo";
  DemoDataOptions data_options;
  data_options.out_dir = out;
  if (options.quick) {
    data_options.n_train = 1500;
    data_options.n_eval = 120;
    data_options.n_heldout = 40;
  }
  const DemoData data = make_demo_data(data_options);
  const std::string runs = out + "/runs";
  std::vector<std::string> common = {"run.out_dir=" + runs, "data.path=" + data.train_dir};
  auto with = [&](std::vector<std::string> extra, const std::vector<std::string>& quick) {
    extra.insert(extra.begin(), common.begin(), common.end());
    if (options.quick) extra.insert(extra.end(), quick.begin(), quick.end());
    return extra;
  };
  const std::vector<std::string> quick_schedule = {"schedule.eval_every=0", "schedule.save_every=0",
                                                   "schedule.log_every=10", "train.warmup_steps=5"};
  auto quick_steps = [&](int steps) {
    auto q = quick_schedule;
    q.push_back("train.steps=" + std::to_string(steps));
    return q;
  };
  const std::string stage1 = train_stage(options, configs + "/stage1.yaml",
                                         with({"qformer.tokenizer=" + data.tokenizer_dir}, quick_steps(200)));
  const std::string lm = train_stage(options, configs + "/lm.yaml", with({"lm.path=" + data.tokenizer_dir}, quick_steps(30)));
  const std::string stage2 = train_stage(
      options, configs + "/stage2.yaml",
      // 400 quick steps: at 30 and 200 the answers were no better than the question-only majority
      // answer (the model had not yet learned to read the image tokens); see tests/e2e/demo.
      with({"qformer.checkpoint=" + stage1 + "/export", "lm.path=" + lm + "/export"}, quick_steps(400)));

  log::info("demo: evaluating on ", data.eval_dir, " (scenes never seen in training)");
  // The final weights (export/) on every scene of the evaluation sets, which training never saw.
  const auto all = inference::EvalSplit::kAll;
  inference::RetrievalOptions r;
  r.data_path = data.eval_dir;
  r.split = all;
  r.out_dir = stage2;
  const auto retrieval = inference::evaluate_retrieval(stage1 + "/export", r);
  inference::CaptionOptions c;
  c.data_path = data.eval_dir;
  c.split = all;
  c.out_dir = stage2;
  const auto captions = inference::evaluate_captions(stage2 + "/export", c);
  inference::CaptionOptions h;
  h.data_path = data.heldout_dir;
  h.split = all;
  const auto heldout = inference::evaluate_captions(stage2 + "/export", h);
  const auto vqa = inference::evaluate_vqa(stage2 + "/export", data.eval_dir, all);
  const std::string report = eval::write_report(stage2);

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json captions_json = {{"attribute_accuracy", captions.attribute_accuracy},
                                  {"heldout_combo_attribute_accuracy", heldout.attribute_accuracy},
                                  {"by_objects", inference::attribute_breakdown_json(captions)},
                                  {"images", captions.images}};
  for (const auto& [k, v] : captions.metrics) captions_json[k] = v;
  const nlohmann::json summary = {{"retrieval", eval::run_files::retrieval_json(retrieval)},
                                  {"captions", captions_json},
                                  {"vqa", inference::vqa_json(vqa)},
                                  {"runs", {{"stage1", stage1}, {"lm", lm}, {"stage2", stage2}}},
                                  {"report", report},
                                  {"seconds", seconds}};
  io::write_file_atomic(out + "/summary.json", summary.dump(2));
  return summary;
}

}  // namespace vlm::train
