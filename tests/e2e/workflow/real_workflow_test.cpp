// The README's "Real models and data" workflow through the built CLI, with the shipped
// configs/cc-smollm and configs/cc-qwen3 unchanged (only --set overrides of sizes and, where a
// step needs another run, of paths), on tiny model folders in the exact Hugging Face layouts and
// an img2dataset `files` folder (tools/hf_tiny/make_tiny_hf.py): data stats -> stage 1 ->
// eval retrieval -> stage 2 (LoRA) -> eval captions -> caption -> report; a stage-1 run stopped by
// SIGINT feeding stage 2; retrieval from checkpoints/best; zero-shot on a class folder (issue 17).
// One TEST per step over a shared workspace (workflow_fixture.h): any step runs alone.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "workflow_fixture.h"

namespace fs = std::filesystem;
using vlm::test::workflow::Child;
using vlm::test::workflow::has_key;
using vlm::test::workflow::int_or;
using vlm::test::workflow::last_json;
using vlm::test::workflow::quote;
using vlm::test::workflow::Result;
using vlm::test::workflow::tail;
using vlm::test::workflow::Workspace;

// Fails the test with the prerequisite step's error when it could not be made.
#define ASSERT_STEP(expr)                      \
  do {                                         \
    const std::string step_error_ = (expr);    \
    ASSERT_TRUE(step_error_.empty()) << step_error_; \
  } while (0)

namespace {

constexpr int64_t kImages = 48;        // make_tiny_hf.py's default --images
constexpr int64_t kClassImages = 3 * 4;  // 3 classes x --per-class 4

// The tiny models' sizes in the configs' terms (DistilBERT dim 32 -> Q-Former width 32).
const std::string kStage1Sizes =
    " --set qformer.num_query_tokens=4 --set qformer.embed_dim=16 --set qformer.max_text_length=32"
    " --set data.workers=1 --set train.steps=6 --set train.batch_size=8"
    " --set schedule.log_every=1 --set schedule.eval_every=3 --set schedule.eval_batches=1"
    " --set schedule.save_every=3";
const std::string kStage2Sizes =
    " --set qformer.num_query_tokens=4 --set qformer.embed_dim=16 --set lm.lora.r=4 --set lm.lora.alpha=8"
    " --set data.workers=1 --set train.steps=4 --set train.batch_size=4 --set train.grad_accum=1"
    " --set train.warmup_steps=1 --set schedule.log_every=1 --set schedule.eval_every=2"
    " --set schedule.eval_batches=1 --set schedule.save_every=2 --set generation.max_new_tokens=8";

struct Track {
  std::string name;  // cc-smollm, cc-qwen3: the config folder and the run names' prefix

  std::string config(const std::string& stage) const {
    return quote(std::string(VLM_SOURCE_DIR) + "/configs/" + name + "/" + stage + ".yaml");
  }
  std::string stage1_run() const { return "runs/" + name + "-stage1"; }
  std::string stage2_run() const { return "runs/" + name + "-stage2"; }
};

const Track kSmolLM{"cc-smollm"};
const Track kQwen3{"cc-qwen3"};

std::string describe(const Result& r) { return "$ " + r.command + "\n(exit " + std::to_string(r.status) + ")\n" + tail(r.output); }

class RealWorkflow : public ::testing::Test {
 protected:
  void SetUp() override {
    ws_ = std::make_unique<Workspace>();
    if (!ws_->skip_reason().empty()) GTEST_SKIP() << ws_->skip_reason();
    ASSERT_TRUE(ws_->setup_error().empty()) << ws_->setup_error();
  }

  // `vlm train` of a stage unless its run is done; an earlier failed attempt's directory is removed.
  std::string ensure_train(const std::string& step, const std::string& run, const std::string& args) {
    return ws_->ensure(step, [&] {
      fs::remove_all(ws_->path(run));
      return ws_->vlm("train " + args);
    });
  }
  std::string ensure_stage1(const Track& t) {
    return ensure_train(t.name + "-stage1", t.stage1_run(), "--config " + t.config("stage1") + kStage1Sizes);
  }
  // Stage 2 reads the stage-1 run the config names (runs/<name>-stage1): no path override.
  std::string ensure_stage2(const Track& t) {
    if (auto e = ensure_stage1(t); !e.empty()) return e;
    return ensure_train(t.name + "-stage2", t.stage2_run(), "--config " + t.config("stage2") + kStage2Sizes);
  }
  std::string ensure_captions(const Track& t) {
    if (auto e = ensure_stage2(t); !e.empty()) return e;
    return ws_->ensure(t.name + "-eval-captions", [&] { return eval_captions(t); });
  }
  Result eval_captions(const Track& t) {
    // --split all: the 8 images 40..47 of the whole folder (its held-out split has about 5).
    return ws_->vlm("eval captions --model " + t.stage2_run() + " --data data/cc --split all --range 40:48");
  }

  void check_stage1_run(const Track& t) {
    const std::string run = ws_->path(t.stage1_run());
    EXPECT_TRUE(fs::exists(run + "/config.yaml"));
    EXPECT_TRUE(fs::exists(run + "/metrics.jsonl"));
    EXPECT_TRUE(fs::exists(run + "/checkpoints/best")) << "stage 1 with validation keeps a best checkpoint";
    EXPECT_TRUE(fs::exists(run + "/export/qformer/model.safetensors"));
  }

  void check_stage2_run(const Track& t) {
    const std::string run = ws_->path(t.stage2_run());
    EXPECT_TRUE(fs::exists(run + "/checkpoints/latest"));
    bool has_peft = false;  // LoRA in PEFT's format somewhere under export/
    for (const auto& e : fs::recursive_directory_iterator(run + "/export"))
      has_peft = has_peft || e.path().filename() == "adapter_config.json";
    EXPECT_TRUE(has_peft) << "no adapter_config.json (PEFT LoRA) under " << run << "/export";
  }

  void check_caption(const Track& t) {
    ASSERT_STEP(ensure_stage2(t));
    const Result r = ws_->vlm("caption --model " + t.stage2_run() + " photo.jpg --prompt \"What is in this picture?\"");
    ASSERT_EQ(r.status, 0) << describe(r);  // random weights: any text (even none) is a caption
  }

  std::unique_ptr<Workspace> ws_;
};

// Retrieval output: {"i2t": {"R@1", ...}, "t2i": {...}, "images": N}.
void check_retrieval_json(const Result& r, int64_t expected_images) {
  const auto j = last_json(r.output);
  ASSERT_TRUE(j.is_object()) << "no JSON line in the output\n" << describe(r);
  ASSERT_TRUE(j.contains("i2t") && j["i2t"].contains("R@1")) << j.dump();
  ASSERT_TRUE(j.contains("t2i") && j["t2i"].contains("R@5")) << j.dump();
  for (const char* dir : {"i2t", "t2i"}) {
    const double r1 = j[dir]["R@1"].get<double>(), r5 = j[dir]["R@5"].get<double>();
    EXPECT_GE(r1, 0.0);
    EXPECT_LE(r1, r5) << dir;
    EXPECT_LE(r5, 1.0) << dir;
  }
  if (expected_images > 0) {
    EXPECT_EQ(int_or(j, "images"), expected_images) << j.dump();
  }
}

}  // namespace

TEST_F(RealWorkflow, DataStats) {
  const Result r = ws_->vlm("data stats --data data/cc");
  ASSERT_EQ(r.status, 0) << describe(r);
  const auto j = last_json(r.output);
  EXPECT_EQ(int_or(j, "samples"), kImages) << describe(r);
  EXPECT_EQ(int_or(j, "ok"), kImages) << describe(r);
}

// ---- SmolLM track: every command of the README's section --------------------------------------

TEST_F(RealWorkflow, SmolLM_Stage1) {
  ASSERT_STEP(ensure_stage1(kSmolLM));
  check_stage1_run(kSmolLM);
}

TEST_F(RealWorkflow, SmolLM_EvalRetrieval) {
  ASSERT_STEP(ensure_stage1(kSmolLM));
  // The README's command: the held-out split by default (val_fraction 0.1 of 48 pairs).
  const Result val = ws_->vlm("eval retrieval --model " + kSmolLM.stage1_run() + " --data data/cc");
  ASSERT_EQ(val.status, 0) << describe(val);
  check_retrieval_json(val, 0);
  const int64_t val_images = int_or(last_json(val.output), "images");
  EXPECT_GT(val_images, 0);
  EXPECT_LT(val_images, kImages) << "eval retrieval scored training samples: the default split is val";
  EXPECT_TRUE(fs::exists(ws_->path(kSmolLM.stage1_run() + "/eval")));

  const Result all = ws_->vlm("eval retrieval --model " + kSmolLM.stage1_run() + " --data data/cc --split all --out runs/eval-all");
  ASSERT_EQ(all.status, 0) << describe(all);
  check_retrieval_json(all, kImages);
  const Result train = ws_->vlm("eval retrieval --model " + kSmolLM.stage1_run() + " --data data/cc --split train --out runs/eval-train");
  ASSERT_EQ(train.status, 0) << describe(train);
  check_retrieval_json(train, kImages - val_images);
}

TEST_F(RealWorkflow, SmolLM_EvalRetrievalFromCheckpointBest) {
  ASSERT_STEP(ensure_stage1(kSmolLM));
  const Result r = ws_->vlm("eval retrieval --model " + kSmolLM.stage1_run() +
                            "/checkpoints/best --data data/cc --out runs/eval-best");
  ASSERT_EQ(r.status, 0) << describe(r);
  check_retrieval_json(r, 0);
}

TEST_F(RealWorkflow, SmolLM_EvalZeroshot) {
  ASSERT_STEP(ensure_stage1(kSmolLM));
  const Result r = ws_->vlm("eval zeroshot --model " + kSmolLM.stage1_run() + " --data data/classes");
  ASSERT_EQ(r.status, 0) << describe(r);
  const auto j = last_json(r.output);
  ASSERT_TRUE(j.is_object()) << "no JSON line in the output\n" << describe(r);
  EXPECT_TRUE(has_key(j, {"top1", "top-1", "top_1", "acc1"})) << j.dump();
  EXPECT_TRUE(has_key(j, {"top5", "top-5", "top_5", "acc5"})) << j.dump();
  EXPECT_TRUE(has_key(j, {"confusion", "per_class"})) << j.dump();
  EXPECT_NE(j.dump().find(std::to_string(kClassImages)), std::string::npos) << "12 images expected: " << j.dump();
  for (const char* cls : {"circle", "square", "triangle"}) EXPECT_NE(j.dump().find(cls), std::string::npos) << j.dump();
}

TEST_F(RealWorkflow, SmolLM_Stage2) {
  ASSERT_STEP(ensure_stage2(kSmolLM));
  check_stage2_run(kSmolLM);
}

TEST_F(RealWorkflow, SmolLM_EvalCaptions) {
  ASSERT_STEP(ensure_stage2(kSmolLM));
  const Result r = eval_captions(kSmolLM);
  ASSERT_EQ(r.status, 0) << describe(r);
  ws_->mark(kSmolLM.name + "-eval-captions");
  const auto j = last_json(r.output);
  ASSERT_TRUE(j.is_object()) << describe(r);
  EXPECT_EQ(int_or(j, "images"), 8) << j.dump();
  EXPECT_TRUE(fs::exists(ws_->path(kSmolLM.stage2_run() + "/eval/captions.csv")));
}

TEST_F(RealWorkflow, SmolLM_Caption) { check_caption(kSmolLM); }

TEST_F(RealWorkflow, SmolLM_Report) {
  ASSERT_STEP(ensure_captions(kSmolLM));
  const Result r = ws_->vlm("report " + kSmolLM.stage2_run());
  ASSERT_EQ(r.status, 0) << describe(r);
  const std::string html = vlm::test::workflow::read_text(ws_->path(kSmolLM.stage2_run() + "/report.html"));
  ASSERT_FALSE(html.empty()) << "no report.html\n" << describe(r);
  size_t thumbnails = 0;
  for (size_t at = html.find("<div class=\"card\"><img"); at != std::string::npos;
       at = html.find("<div class=\"card\"><img", at + 1))
    ++thumbnails;
  EXPECT_EQ(thumbnails, 8u) << "the gallery shows " << thumbnails << " of 8 images";
  EXPECT_EQ(html.find("image unavailable"), std::string::npos)
      << html.substr(html.find("image unavailable"), 300);
}

// SIGINT after the first checkpoint leaves a model: stage 2 takes the stopped run, and so does
// eval retrieval.
TEST_F(RealWorkflow, SmolLM_InterruptedStage1FeedsStage2) {
  const std::string run = "runs/cc-smollm-stage1-sigint";
  fs::remove_all(ws_->path(run));
  fs::remove_all(ws_->path("runs/cc-smollm-stage2-from-sigint"));
  std::vector<std::string> argv = {VLM_BINARY, "train", "--config",
                                   std::string(VLM_SOURCE_DIR) + "/configs/cc-smollm/stage1.yaml"};
  std::istringstream sizes(kStage1Sizes);
  for (std::string word; sizes >> word;) argv.push_back(word);
  for (const char* extra : {"run.name=cc-smollm-stage1-sigint", "train.steps=100000", "schedule.save_every=2",
                            "schedule.eval_every=2"}) {
    argv.push_back("--set");
    argv.push_back(extra);
  }
  const std::string log = ws_->path("sigint-stage1.log");
  Child child = vlm::test::workflow::spawn(ws_->dir(), argv, log);
  const bool saved = vlm::test::workflow::wait_for_path(ws_->path(run + "/checkpoints/latest/manifest.json"), child,
                                                        std::chrono::seconds(300));
  if (!saved) child.wait(std::chrono::seconds(1));
  ASSERT_TRUE(saved) << "no first checkpoint\n" << tail(vlm::test::workflow::read_text(log));
  ASSERT_FALSE(child.poll()) << "the run ended before SIGINT\n" << tail(vlm::test::workflow::read_text(log));
  ::kill(child.pid, SIGINT);
  ASSERT_TRUE(child.wait(std::chrono::seconds(120))) << "no exit within 120 s of SIGINT";
  EXPECT_EQ(child.exit_code(), 130) << tail(vlm::test::workflow::read_text(log));

  const Result stage2 = ws_->vlm("train --config " + kSmolLM.config("stage2") + kStage2Sizes +
                                 " --set qformer.checkpoint=" + run + " --set run.name=cc-smollm-stage2-from-sigint" +
                                 " --set train.steps=2");
  EXPECT_EQ(stage2.status, 0) << describe(stage2);
  const Result eval = ws_->vlm("eval retrieval --model " + run + " --data data/cc");
  EXPECT_EQ(eval.status, 0) << describe(eval);
}

// ---- Qwen3 track: the same stages with configs/cc-qwen3 ----------------------------------------

TEST_F(RealWorkflow, Qwen3_Stage1) {
  ASSERT_STEP(ensure_stage1(kQwen3));
  check_stage1_run(kQwen3);
}

TEST_F(RealWorkflow, Qwen3_Stage2) {
  ASSERT_STEP(ensure_stage2(kQwen3));
  check_stage2_run(kQwen3);
}

TEST_F(RealWorkflow, Qwen3_EvalCaptions) {
  ASSERT_STEP(ensure_stage2(kQwen3));
  const Result r = eval_captions(kQwen3);
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_TRUE(fs::exists(ws_->path(kQwen3.stage2_run() + "/eval/captions.csv")));
}

TEST_F(RealWorkflow, Qwen3_Caption) { check_caption(kQwen3); }
