#include "train/demo_data.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "config/run_config.h"
#include "core/log.h"
#include "core/random.h"
#include "data/synthetic.h"
#include "io/atomic_file.h"
#include "io/jsonl.h"
#include "tokenizers/tokenizer.h"

namespace fs = std::filesystem;

namespace vlm::train {

const char* const kChatMlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

namespace {

// A dataset folder is reused when its captions file exists (write_synthetic_dataset is atomic).
void ensure_dataset(const std::string& dir, uint64_t seed, int image_size, int n_train, int n_heldout) {
  if (fs::exists(dir + "/captions.jsonl")) return;
  data::SyntheticConfig cfg;
  cfg.seed = seed;
  cfg.image_size = image_size;
  log::info("demo: drawing ", n_train + n_heldout, " scenes into ", dir);
  data::write_synthetic_dataset(dir, cfg, n_train, n_heldout);
}

std::vector<std::string> dataset_text(const std::string& dir) {
  std::vector<std::string> text;
  io::for_each_jsonl_object(dir + "/captions.jsonl", [&](const nlohmann::json& row, const std::string&) {
    text.push_back(row.at("caption").get<std::string>());
    for (const auto& qa : row.value("qa", nlohmann::json::array())) {
      text.push_back(qa.at("question").get<std::string>());
      text.push_back(qa.at("answer").get<std::string>());
    }
  });
  return text;
}

}  // namespace

DemoData make_demo_data(const DemoDataOptions& o) {
  DemoData d;
  d.train_dir = o.out_dir + "/data/train";
  d.eval_dir = o.out_dir + "/data/eval";
  d.heldout_dir = o.out_dir + "/data/heldout";
  d.tokenizer_dir = o.out_dir + "/tokenizer";
  fs::create_directories(o.out_dir + "/data");
  // Different seeds give different scenes: the evaluation images are never seen in training.
  ensure_dataset(d.train_dir, seed_stream::demo_dataset(o.seed, 1), o.image_size, o.n_train, 0);
  ensure_dataset(d.eval_dir, seed_stream::demo_dataset(o.seed, 2), o.image_size, o.n_eval, 0);
  ensure_dataset(d.heldout_dir, seed_stream::demo_dataset(o.seed, 3), o.image_size, 0, o.n_heldout);

  if (!fs::exists(d.tokenizer_dir + "/tokenizer.json")) {
    // Every word the models may read or write: captions, questions, answers (of all splits:
    // held-out scenes use the same words, only in new combinations) and the chat prompts.
    std::vector<std::string> corpus = dataset_text(d.train_dir);
    for (const auto* dir : {&d.eval_dir, &d.heldout_dir}) {
      auto more = dataset_text(*dir);
      corpus.insert(corpus.end(), more.begin(), more.end());
    }
    config::PromptSection prompts;
    corpus.push_back(prompts.system);
    corpus.insert(corpus.end(), prompts.user.begin(), prompts.user.end());
    for (const char* role : {"system", "user", "assistant"}) corpus.emplace_back(role);
    const auto tokenizer =
        tokenizers::build_word_level(corpus, {"[CLS]", "[SEP]", "<|im_start|>", "<|im_end|>"});
    io::write_dir_atomic(d.tokenizer_dir, [&](const std::string& tmp) {
      tokenizer.save(tmp + "/tokenizer.json");
      const nlohmann::json config = {{"chat_template", kChatMlTemplate},
                                     {"eos_token", "<|im_end|>"},
                                     {"pad_token", "[PAD]"},
                                     {"unk_token", "[UNK]"},
                                     {"cls_token", "[CLS]"},
                                     {"sep_token", "[SEP]"},
                                     {"model_max_length", 128},
                                     {"tokenizer_class", "PreTrainedTokenizerFast"}};
      io::write_file_atomic(tmp + "/tokenizer_config.json", config.dump(2));
    });
  }
  return d;
}

}  // namespace vlm::train
