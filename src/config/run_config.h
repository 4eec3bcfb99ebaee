// The run configuration: one typed tree for training and evaluation, read from YAML with
// `--set` overrides, validated before any work starts, saved with every run and checkpoint.
// Field names and defaults follow the reference pipeline (shared REFERENCE.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/binder.h"
#include "config/enums.h"

namespace vlm::config {

struct RunSection {
  std::string name = "run";        // e.g. "cc-smollm-stage1"; the run directory is out_dir/name
  std::string out_dir = "runs";
  int64_t seed = 42;
  std::string device = "auto";     // auto | cpu | cuda | cuda:N
  int64_t threads = 0;             // intra-op threads; 0 = all cores
  bool deterministic = false;      // bit-identical resume on the CPU (single loader order, no races)
  void bind(Binder& b);
};

// The frozen image encoder. `path` is an HF ViT folder; without it a ViT is built from the
// size fields below with random weights (the demo trains it in stage 1).
struct VisionSection {
  std::string path;
  int64_t image_size = 224;
  int64_t patch_size = 16;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  double initializer_range = 0.02;  // from scratch: std of the random weights (the demo: larger, see its config)
  std::vector<int64_t> stem_channels;  // from scratch: a conv stem's widths (models/vit.h); empty = HF patch embedding
  bool train = false;              // the real setup freezes it; the demo trains it (stage 1, optionally 2)
  double lr = 0.0;                 // stage 2 with train: the ViT's learning rate; 0 = train.lr
  // Stage 1 with a frozen ViT: its features computed once into this folder and read from there
  // every epoch (train/feature_cache.h); empty = off. e.g. "cache/vit-features".
  std::string feature_cache;
  std::string feature_cache_dtype = "bf16";  // bf16 | fp16 | fp32 (exact, twice the disk)
  void bind(Binder& b);
};

struct QFormerSection {
  std::string init_from;           // DistilBERT/BERT folder; empty = from scratch with the sizes below
  std::string tokenizer;           // tokenizer folder/file; empty = init_from
  std::string checkpoint;          // a stage-1 run/checkpoint to start from (stage 2)
  int64_t num_query_tokens = 32;
  int64_t cross_attention_freq = 1;
  int64_t embed_dim = 256;
  QuerySimilarity similarity = QuerySimilarity::kMean;  // mean (reference tutorial) | max (BLIP-2)
  bool query_ffn = true;
  int64_t max_text_length = 64;
  int64_t hidden_size = 768;       // from-scratch sizes (ignored with init_from)
  int64_t num_hidden_layers = 6;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  double initializer_range = 0.02;  // from scratch: std of the random weights (the demo: larger, see its config)
  void bind(Binder& b);
};

struct LoraSection {
  int64_t r = 64;
  double alpha = 128;
  double dropout = 0.1;
  std::vector<std::string> target_modules = {"all-linear"};
  bool use_rslora = false;
  void bind(Binder& b);
};

struct LmSection {
  std::string path;                // HF causal LM folder (SmolLM, Qwen3); for stage "lm" the output of pretraining
  std::string checkpoint;          // a stage-2 run/checkpoint (evaluation, continued training)
  bool lora_enabled = true;
  LoraSection lora;
  bool full_finetune = false;      // stage 2: train every LM weight instead (small LMs, the demo's)
  bool export_merged = false;      // stage 2: also export the LM with LoRA merged, HF layout (export/lm)
  // From-scratch LM sizes (stage "lm" of the demo only).
  int64_t hidden_size = 576;
  int64_t num_hidden_layers = 30;
  int64_t num_attention_heads = 9;
  int64_t num_key_value_heads = 3;
  int64_t intermediate_size = 1536;
  void bind(Binder& b);
};

struct DataSection {
  std::string path;                // table, img2dataset folder, shards folder, image folder, or synthetic:N
  std::string format = "auto";
  std::string image_column = "image";
  std::string caption_column = "caption";
  double val_fraction = 0.1;
  int64_t split_seed = 42;
  int64_t workers = 2;
  int64_t max_samples = 0;         // 0 = all
  bool augment = false;
  double vqa_ratio = 0.0;          // stage 2: share of samples trained on a question-answer pair
  void bind(Binder& b);
};

struct TrainSection {
  Stage stage = Stage::kStage1;    // stage1 | stage2 | lm
  int64_t steps = 1000;            // optimizer steps; 0 = from epochs
  double epochs = 0;               // passes over the training split, used when steps is 0 (e.g. 10)
  int64_t batch_size = 8;
  int64_t grad_accum = 1;
  OptimizerKind optimizer = OptimizerKind::kAdamW;
  double lr = 1e-4;                // stage 1: cross-attention + queries; stage 2: Q-Former
  double lr_other_mult = 0.1;      // stage 1: every other Q-Former parameter at lr x this
  double lr_head = 5e-4;           // stage 2: adapter and LoRA
  double weight_decay = 0.01;
  ScheduleKind schedule = ScheduleKind::kCosine;
  int64_t warmup_steps = 100;
  double min_lr_ratio = 0.0;
  double clip_grad_norm = 1.0;     // 0 = off
  Precision precision = Precision::kAuto;  // auto (bf16 on GPUs that have it) | fp32 | bf16
  bool frozen_bf16 = true;         // under bf16: frozen product weights stored in bf16 (models/frozen_bf16.h)
  double temperature = 0.07;
  bool learn_temperature = false;
  double itm_weight = 0.0;         // BLIP-2 image-text matching loss weight (0 = off)
  double itg_weight = 0.0;         // BLIP-2 image-grounded caption loss weight (0 = off)
  std::vector<std::string> negative_words;  // stage 1: word groups for hard negative captions
  double tag_weight = 0.0;         // stage 1: image tagging loss weight (0 = off; train/caption_tags.h)
  TagSource tag_source = TagSource::kQueries;  // stage 1: queries | vision_patches (a trained ViT's output patch tokens)
  int64_t tag_vocab_size = 1000;   // stage 1: most frequent caption words and word pairs kept as tags
  int64_t tag_min_count = 5;       // stage 1: a tag needs at least this many training captions
  int64_t max_bad_steps = 10;      // consecutive non-finite steps before stopping
  void bind(Binder& b);
};

struct ScheduleSection {
  int64_t log_every = 5;
  int64_t eval_every = 10;
  int64_t eval_batches = 20;
  int64_t save_every = 20;
  int64_t keep_checkpoints = 2;
  int64_t sample_captions = 4;     // stage 2: captions printed at each evaluation
  void bind(Binder& b);
};

struct PromptSection {
  std::string system = "Answer the user's question truthfully";
  std::vector<std::string> user = {
      "Tell me about this image:", "Describe this picture.", "What do you see in this image?",
      "Provide a description of the photo.", "Can you explain what is shown in this image?",
      "What is in this picture?", "Describe the contents of this image.",
      "Give me a summary of what's shown here.", "What can you see here?",
      "Explain the visual content of this image.", "Describe this image in detail.",
      "What's happening in this photo?"};
  int64_t max_target_tokens = 64;
  void bind(Binder& b);
};

struct GenerationSection {
  int64_t max_new_tokens = 100;
  double temperature = 0.7;
  double top_p = 0.9;
  int64_t top_k = 0;
  double repetition_penalty = 1.2;
  void bind(Binder& b);
};

struct RunConfig {
  RunSection run;
  VisionSection vision;
  QFormerSection qformer;
  LmSection lm;
  DataSection data;
  TrainSection train;
  ScheduleSection schedule;
  PromptSection prompt;
  GenerationSection generation;
  void bind(Binder& b);
  // Cross-field checks; throws ConfigError naming the key and the fix.
  void validate() const;
};

// Reads FILE, applies the overrides in order, binds and validates.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});
// Makes every path that names an input (model folders, checkpoints, data, the feature cache)
// absolute against the working directory, so a run's saved config reads the same inputs from
// anywhere. Dataset specs that are not paths ("synthetic:N", URLs) are left as they are.
void make_paths_absolute(RunConfig& config);

// Commented YAML of a resolved config (what `vlm config show` prints and runs save).
std::string to_yaml(RunConfig config);

}  // namespace vlm::config
