#include "config/run_config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "config/word_groups.h"
#include "core/error.h"

namespace vlm::config {

void RunSection::bind(Binder& b) {
  b.field("name", name, "run name; the run directory is out_dir/name");
  b.field("out_dir", out_dir, "folder holding run directories");
  b.field("seed", seed, "seed for weights, data order and sampling", at_least(0));
  b.field("device", device, "auto | cpu | cuda | cuda:N");
  b.field("threads", threads, "intra-op CPU threads, 0 = all cores", between(0, 1024));
  b.field("deterministic", deterministic, "reproducible step by step (CPU); resume logs identical losses");
}

void VisionSection::bind(Binder& b) {
  b.field("path", path, "HF ViT folder (google/vit-base-patch16-224 layout); empty = random ViT of the sizes below");
  b.field("image_size", image_size, "input side in pixels", between(8, 4096));
  b.field("patch_size", patch_size, "patch side in pixels", between(1, 1024));
  b.field("hidden_size", hidden_size, "from-scratch width", between(8, 65536));
  b.field("num_hidden_layers", num_hidden_layers, "from-scratch depth", between(1, 256));
  b.field("num_attention_heads", num_attention_heads, "from-scratch heads", between(1, 1024));
  b.field("intermediate_size", intermediate_size, "from-scratch MLP width", between(1, 1 << 20));
  b.field("initializer_range", initializer_range, "from-scratch std of the random weights (HF's 0.02)", at_least(0.0));
  b.field("stem_channels", stem_channels,
          "from scratch: 3x3 stride-2 conv widths before the patch projection (not in HF's layout); [] = none",
          between(1, 4096));
  b.field("train", train, "train the ViT too (only sensible from scratch, as in the demo)");
  b.field("lr", lr, "stage 2 with train: the ViT's learning rate; 0 = train.lr", at_least(0.0));
  b.field("feature_cache", feature_cache,
          "stage 1 or 2, frozen ViT: folder where its features are computed once and read every epoch; empty = off");
  b.field("feature_cache_dtype", feature_cache_dtype, "feature cache storage: bf16 | fp16 | fp32 (exact, 2x disk)",
          {"bf16", "fp16", "fp32"});
}

void QFormerSection::bind(Binder& b) {
  b.field("init_from", init_from, "DistilBERT or BERT folder to initialise from; empty = from scratch");
  b.field("tokenizer", tokenizer, "tokenizer folder or tokenizer.json; empty = init_from");
  b.field("checkpoint", checkpoint, "stage-1 run directory or checkpoint to start from");
  b.field("num_query_tokens", num_query_tokens, "learnable query tokens", between(1, 4096));
  b.field("cross_attention_freq", cross_attention_freq, "cross-attention every N layers", between(1, 256));
  b.field("embed_dim", embed_dim, "shared image-text embedding width", between(1, 65536));
  bind_enum(b, "similarity", similarity, "image-text similarity over queries");
  b.field("query_ffn", query_ffn, "separate query FFN initialised from the text FFN (BLIP-2)");
  b.field("max_text_length", max_text_length, "text tokens kept (truncation)", between(4, 65536));
  b.field("hidden_size", hidden_size, "from-scratch width", between(8, 65536));
  b.field("num_hidden_layers", num_hidden_layers, "from-scratch depth", between(1, 256));
  b.field("num_attention_heads", num_attention_heads, "from-scratch heads", between(1, 1024));
  b.field("intermediate_size", intermediate_size, "from-scratch FFN width", between(1, 1 << 20));
  b.field("initializer_range", initializer_range, "from-scratch std of the random weights (HF's 0.02)", at_least(0.0));
}

void LoraSection::bind(Binder& b) {
  b.field("r", r, "rank", between(1, 4096));
  b.field("alpha", alpha, "scale numerator: scale = alpha / r (alpha / sqrt(r) with rsLoRA)", above(0));
  b.field("dropout", dropout, "dropout on the LoRA branch input", between(0, 0.99));
  b.field("target_modules", target_modules, "module name patterns, or all-linear");
  b.field("use_rslora", use_rslora, "rank-stabilised scaling");
}

void LmSection::bind(Binder& b) {
  b.field("path", path, "HF causal LM folder (SmolLM / Llama or Qwen3 layout)");
  b.field("checkpoint", checkpoint, "stage-2 run directory or checkpoint");
  b.field("lora_enabled", lora_enabled, "tune the LM with LoRA (false = LM frozen)");
  b.section("lora", lora, "LoRA on the LM (stage 2)");
  b.field("full_finetune", full_finetune, "stage 2: train every LM weight (instead of LoRA; export/lm holds the LM)");
  b.field("export_merged", export_merged, "stage 2: also export the LM with LoRA merged, HF layout, to export/lm");
  b.field("hidden_size", hidden_size, "from-scratch width (stage lm)", between(8, 65536));
  b.field("num_hidden_layers", num_hidden_layers, "from-scratch depth (stage lm)", between(1, 256));
  b.field("num_attention_heads", num_attention_heads, "from-scratch heads (stage lm)", between(1, 1024));
  b.field("num_key_value_heads", num_key_value_heads, "from-scratch KV heads (stage lm)", between(1, 1024));
  b.field("intermediate_size", intermediate_size, "from-scratch MLP width (stage lm)", between(1, 1 << 20));
}

void DataSection::bind(Binder& b) {
  b.field("path", path, "table (.csv/.tsv/.jsonl), img2dataset folder, .tar shards folder, or image folder");
  b.field("format", format, "auto, or the format name", {"auto", "table", "cc_tsv", "files", "webdataset", "folder"});
  b.field("image_column", image_column, "table column with the image path or URL");
  b.field("caption_column", caption_column, "table column with the caption");
  b.field("val_fraction", val_fraction, "share held out for validation (stable hash of the sample key)",
          between(0, 0.9));
  b.field("split_seed", split_seed, "seed of the split hash", at_least(0));
  b.field("workers", workers, "loader threads", between(0, 256));
  b.field("max_samples", max_samples, "use at most this many samples, 0 = all", at_least(0));
  b.field("augment", augment, "random resized crop and colour jitter in training");
  b.field("vqa_ratio", vqa_ratio, "stage 2: share of samples trained on a question-answer pair", between(0, 1));
}

void TrainSection::bind(Binder& b) {
  bind_enum(b, "stage", stage, "what to train");
  b.field("steps", steps, "optimizer steps; 0 = derived from train.epochs (a value > 0 wins)", at_least(0));
  b.field("epochs", epochs, "passes over the training split, used when train.steps is 0", between(0, 1e6));
  b.field("batch_size", batch_size, "samples per micro-batch (per process)", between(1, 65536));
  b.field("grad_accum", grad_accum, "micro-batches per optimizer step", between(1, 65536));
  bind_enum(b, "optimizer", optimizer, "adamw (decoupled weight decay) or adam (none)");
  b.field("lr", lr, "stage 1: cross-attention and queries; stage 2: Q-Former", above(0));
  b.field("lr_other_mult", lr_other_mult, "stage 1: the rest of the Q-Former at lr x this", above(0));
  b.field("lr_head", lr_head, "stage 2: adapter and LoRA; stage lm: the LM", above(0));
  b.field("weight_decay", weight_decay, "AdamW decoupled weight decay", at_least(0));
  bind_enum(b, "schedule", schedule, "learning-rate schedule after warmup");
  b.field("warmup_steps", warmup_steps, "linear warmup steps", at_least(0));
  b.field("min_lr_ratio", min_lr_ratio, "floor of the decay as a share of the peak", between(0, 1));
  b.field("clip_grad_norm", clip_grad_norm, "clip the global gradient norm, 0 = off", at_least(0));
  bind_enum(b, "precision", precision, "auto = bf16 autocast on GPUs that support it, else fp32");
  b.field("frozen_bf16", frozen_bf16,
          "under bf16 autocast, keep frozen weights of products in bf16: the same arithmetic, no cast per step");
  b.field("temperature", temperature, "contrastive temperature (initial value when learned)", above(0));
  b.field("learn_temperature", learn_temperature, "learn the temperature (as CLIP)");
  b.field("itm_weight", itm_weight, "BLIP-2 image-text matching loss weight, 0 = off", at_least(0));
  b.field("itg_weight", itg_weight, "BLIP-2 image-grounded caption loss weight, 0 = off", at_least(0));
  b.field("negative_words", negative_words,
          "stage 1: groups of interchangeable words, one group per entry (\"red green blue\"); each caption "
          "gets a hard negative twin with one word replaced from its group or two swapped (NegCLIP)");
  b.field("tag_weight", tag_weight,
          "stage 1: weight of the image tagging loss (Tag2Text): predict which frequent caption words and "
          "word pairs an image's caption holds, 0 = off", at_least(0));
  bind_enum(b, "tag_source", tag_source,
          "stage 1: what the tags are read from, max over its tokens: the Q-Former's queries, or the ViT's "
          "output patch tokens (needs vision.train)");
  b.field("tag_vocab_size", tag_vocab_size, "stage 1: tags kept, most frequent first", between(1, 1 << 20));
  b.field("tag_min_count", tag_min_count, "stage 1: training captions a tag must appear in", at_least(1));
  b.field("max_bad_steps", max_bad_steps, "stop after this many non-finite steps in a row", at_least(1));
}

void ScheduleSection::bind(Binder& b) {
  b.field("log_every", log_every, "log training metrics every N steps", at_least(1));
  b.field("eval_every", eval_every, "validate every N steps, 0 = only at the end", at_least(0));
  b.field("eval_batches", eval_batches, "validation batches per evaluation", between(1, 1 << 20));
  b.field("save_every", save_every, "write the latest checkpoint every N steps, 0 = only at the end", at_least(0));
  b.field("keep_checkpoints", keep_checkpoints, "step checkpoints kept besides best and latest", at_least(0));
  b.field("sample_captions", sample_captions, "stage 2: captions generated at each evaluation", at_least(0));
}

void PromptSection::bind(Binder& b) {
  b.field("system", system, "system turn of the chat prompt");
  b.field("user", user, "user turns, one drawn at random per sample");
  b.field("max_target_tokens", max_target_tokens, "caption tokens kept (truncation)", between(1, 65536));
}

void GenerationSection::bind(Binder& b) {
  b.field("max_new_tokens", max_new_tokens, "tokens generated at most", between(1, 65536));
  b.field("temperature", temperature, "sampling temperature, 0 = greedy", at_least(0));
  b.field("top_p", top_p, "nucleus sampling mass", between(0, 1));
  b.field("top_k", top_k, "keep the k most likely tokens, 0 = off", between(0, 1 << 20));
  b.field("repetition_penalty", repetition_penalty, "penalty on tokens already present, 1 = off", above(0));
}

void RunConfig::bind(Binder& b) {
  b.section("run", run, "where the run goes and how it is seeded");
  b.section("vision", vision, "frozen image encoder");
  b.section("qformer", qformer, "querying transformer");
  b.section("lm", lm, "causal language model (stage 2)");
  b.section("data", data, "image-caption data");
  b.section("train", train, "optimisation");
  b.section("schedule", schedule, "periodic work");
  b.section("prompt", prompt, "chat prompt (stage 2)");
  b.section("generation", generation, "caption generation");
}

void RunConfig::validate() const {
  if (data.path.empty()) throw ConfigError("data.path", "is required", "point it at your image-caption data");
  if (vision.path.empty() && vision.image_size % vision.patch_size != 0) {
    throw ConfigError("vision.image_size", str(vision.image_size, " is not a multiple of patch_size ",
                                               vision.patch_size));
  }
  if (const int64_t side = vision.image_size / vision.patch_size; side * side > 16384) {
    throw ConfigError("vision.image_size", str(vision.image_size, " with patch_size ", vision.patch_size, " gives ",
                                               side * side, " patches per image, more than 16384"),
                      "use a smaller image_size or a larger patch_size");
  }
  if (!vision.stem_channels.empty()) {
    if (!vision.path.empty()) {
      throw ConfigError("vision.stem_channels", "is for a ViT built from scratch, but vision.path loads one",
                        "drop stem_channels, or vision.path to train from scratch");
    }
    const size_t convs = vision.stem_channels.size();
    if (convs > 6 || vision.patch_size % (int64_t{1} << convs) != 0) {
      throw ConfigError("vision.stem_channels",
                        str(vision.stem_channels.size(), " stride-2 convs do not divide patch_size ", vision.patch_size),
                        "use at most log2(patch_size) of them");
    }
  }
  if (vision.path.empty() && vision.hidden_size % vision.num_attention_heads != 0) {
    throw ConfigError("vision.hidden_size", "must be divisible by num_attention_heads");
  }
  if (qformer.init_from.empty() && qformer.hidden_size % qformer.num_attention_heads != 0) {
    throw ConfigError("qformer.hidden_size", "must be divisible by num_attention_heads");
  }
  if (train.stage != Stage::kStage1 && lm.path.empty()) {
    throw ConfigError("lm.path", str("is required for stage ", train.stage));
  }
  if (train.stage == Stage::kStage2 && prompt.user.empty()) {
    throw ConfigError("prompt.user", "needs at least one prompt");
  }
  if (lm.full_finetune && lm.lora_enabled) {
    throw ConfigError("lm.full_finetune", "and lm.lora_enabled are both on: the LM is tuned one way or the other",
                      "set lm.lora_enabled: false for full fine-tuning");
  }
  if (lm.num_attention_heads % lm.num_key_value_heads != 0) {
    throw ConfigError("lm.num_key_value_heads", "must divide lm.num_attention_heads");
  }
  if (!vision.feature_cache.empty()) {
    // Cached features are right only when every epoch would have computed the same ones.
    const char* off = "or turn the cache off with vision.feature_cache: \"\"";
    if (train.stage != Stage::kStage1 && train.stage != Stage::kStage2)
      throw ConfigError("vision.feature_cache",
                        str("is for the stages with a ViT (stage1, stage2), got stage ", train.stage), off);
    if (vision.train)
      throw ConfigError("vision.feature_cache", "cannot cache a ViT that is being trained (vision.train: true)",
                        str("set vision.train: false, ", off));
    if (data.augment)
      throw ConfigError("vision.feature_cache", "cannot cache features of augmented images (data.augment: true)",
                        str("set data.augment: false, ", off));
  }
  WordGroups::parse(train.negative_words);  // throws on a malformed group
  if (train.tag_weight > 0 && train.tag_source != TagSource::kQueries && !vision.train) {
    throw ConfigError("train.tag_source", str(train.tag_source, " teaches the ViT, but it is frozen (vision.train: false)"),
                      "read the tags from the queries, or set vision.train: true");
  }
  if (train.stage != Stage::kStage1) {
    // Stage-1 losses elsewhere would be ignored without a word; say so instead.
    if (train.tag_weight > 0) throw ConfigError("train.tag_weight", str("is for stage 1 only, got stage ", train.stage));
    if (!train.negative_words.empty())
      throw ConfigError("train.negative_words", str("is for stage 1 only, got stage ", train.stage));
  }
  if (train.steps == 0 && train.epochs <= 0) {
    throw ConfigError("train.steps", "is 0 and train.epochs is not set", "give the run's length as one of them");
  }
  if (train.steps > 0 && train.warmup_steps > train.steps) {
    throw ConfigError("train.warmup_steps", str("is ", train.warmup_steps, ", more than train.steps ", train.steps));
  }
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  YAML::Node root = load_yaml_file(path);
  Overrides applied;
  for (const auto& o : overrides) applied.emplace_back(apply_override(root, o), o);
  RunConfig config;
  read_yaml(root, path, [&](Binder& b) { config.bind(b); }, applied);
  config.validate();
  return config;
}

void make_paths_absolute(RunConfig& config) {
  for (std::string* p : {&config.vision.path, &config.vision.feature_cache, &config.qformer.init_from,
                         &config.qformer.tokenizer, &config.qformer.checkpoint, &config.lm.path, &config.lm.checkpoint,
                         &config.data.path}) {
    if (p->empty() || p->find("://") != std::string::npos || p->starts_with("synthetic:")) continue;
    *p = std::filesystem::absolute(*p).lexically_normal().string();
  }
}

std::string to_yaml(RunConfig config) {
  return write_yaml([&](Binder& b) { config.bind(b); });
}

}  // namespace vlm::config
