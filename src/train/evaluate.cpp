#include "train/evaluate.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "data/loader.h"
#include "data/synthetic.h"
#include "eval/caption_metrics.h"
#include "eval/grid.h"
#include "eval/retrieval_torch.h"
#include "eval/run_files.h"
#include "io/atomic_file.h"
#include "train/builders.h"
#include "train/vlm_bundle.h"

namespace fs = std::filesystem;

namespace vlm::train {
namespace {

std::shared_ptr<data::Dataset> open_all(const std::string& path, int64_t max_samples) {
  data::DataSpec spec;
  spec.path = path;
  spec.max_samples = max_samples;
  return data::open_dataset(spec);
}

// One pass over the dataset in key order (no shuffle, last batch kept).
data::LoaderOptions eval_loader_options(int64_t batch_size, const data::PreprocessConfig& preprocess) {
  data::LoaderOptions o;
  o.batch_size = batch_size;
  o.workers = 1;
  o.shuffle = false;
  o.drop_last = false;
  o.repeat = false;
  o.preprocess = preprocess;
  return o;
}

std::string normalise_answer(std::string s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == ' ') out.push_back(static_cast<char>(std::tolower(c)));
  }
  const auto b = out.find_first_not_of(' '), e = out.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
}

// The tallies of a breakdown added up.
template <typename Key>
Tally sum_of(const std::map<Key, Tally>& parts) {
  Tally all;
  for (const auto& [key, t] : parts) {
    all.total += t.total;
    all.right += t.right;
  }
  return all;
}

}  // namespace

std::string question_kind(const std::string& question) {
  std::istringstream words(normalise_answer(question));
  std::string first, second;
  words >> first >> second;
  return second.empty() ? first : first + " " + second;
}

nlohmann::json attribute_breakdown_json(const CaptionResult& result) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [n, t] : result.attribute_by_objects) {
    out[std::to_string(n)] = {{"accuracy", t.share()}, {"images", t.total}};
  }
  return out;
}

nlohmann::json vqa_json(const VqaResult& result) {
  nlohmann::json kinds = nlohmann::json::object();
  for (const auto& [kind, t] : result.by_kind) kinds[kind] = {{"accuracy", t.share()}, {"questions", t.total}};
  return {{"accuracy", result.accuracy}, {"questions", result.questions}, {"by_kind", kinds}};
}

std::vector<std::pair<std::string, std::string>> colour_shape_pairs(const std::string& caption) {
  std::vector<std::string> colours, shapes;
  for (int c = 0; c < data::kNumColors; ++c) colours.emplace_back(data::color_name(static_cast<data::Color>(c)));
  for (int s = 0; s < data::kNumShapes; ++s) shapes.emplace_back(data::shape_name(static_cast<data::Shape>(s)));
  std::istringstream words(normalise_answer(caption));
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string pending, word;
  while (words >> word) {
    if (std::find(colours.begin(), colours.end(), word) != colours.end()) {
      pending = word;
    } else if (std::find(shapes.begin(), shapes.end(), word) != shapes.end() && !pending.empty()) {
      pairs.emplace_back(pending, word);
      pending.clear();
    }
  }
  std::sort(pairs.begin(), pairs.end());
  return pairs;
}

eval::RetrievalMetrics evaluate_retrieval(const std::string& model, const RetrievalOptions& options) {
  torch::NoGradGuard no_grad;
  const std::string dir = export_dir_of(model);
  auto vision = models::load_vit(dir + "/vision").model;
  auto qformer = models::load_qformer(dir + "/qformer").model;
  const auto tokenizer = tokenizers::Tokenizer::from_path(dir + "/qformer");
  vision->eval();
  qformer->eval();
  const auto dataset = open_all(options.data_path, options.max_images);
  data::PreprocessConfig pre = data::load_preprocess_config_from_dir(dir + "/vision");
  pre.height = pre.width = static_cast<int>(vision->config().image_size);
  data::Loader loader(dataset, eval_loader_options(options.batch_size, pre));
  std::vector<at::Tensor> image_embeds, text_embeds;
  std::vector<std::string> captions;
  std::vector<int64_t> text_to_image;
  std::vector<data::Image> grid_images;
  int64_t n_images = 0;
  while (auto batch = loader.next()) {
    image_embeds.push_back(qformer->image_embeds(vision->forward(batch->pixel_values)));  // (B, Q, E)
    const auto text = tokenize_for_qformer(tokenizer, batch->captions, 64);
    text_embeds.push_back(qformer->text_embed(text.input_ids, text.attention_mask));      // (B, E)
    for (int64_t i = 0; i < batch->size(); ++i) {
      captions.push_back(batch->captions[i]);
      text_to_image.push_back(n_images + i);
    }
    n_images += batch->size();
  }
  const at::Tensor sim = qformer->similarity(torch::cat(image_embeds), torch::cat(text_embeds))
                             .to(torch::kFloat).contiguous();  // (N, N)
  const auto metrics = eval::compute_retrieval({sim.data_ptr<float>(), static_cast<size_t>(sim.numel())}, n_images,
                                               n_images, text_to_image, captions);
  if (!options.out_dir.empty()) {
    fs::create_directories(eval::run_files::eval_dir(options.out_dir));
    eval::run_files::write_retrieval(eval::run_files::retrieval_path(options.out_dir), metrics);
    const int64_t g = std::min<int64_t>(options.grid_images, n_images);
    for (int64_t i = 0; i < g; ++i) grid_images.push_back(data::decode_image(data::read_bytes(dataset->samples[i]), dataset->samples[i].key));
    const at::Tensor sub = sim.slice(0, 0, g).slice(1, 0, g).contiguous();
    eval::write_similarity_grid(eval::run_files::grid_path(options.out_dir), grid_images,
                                {sub.data_ptr<float>(), static_cast<size_t>(sub.numel())}, g,
                                std::vector<int64_t>(text_to_image.begin(), text_to_image.begin() + g));
    eval::run_files::write_grid_captions(eval::run_files::grid_captions_path(options.out_dir),
                                         std::vector<std::string>(captions.begin(), captions.begin() + g));
  }
  return metrics;
}

CaptionResult evaluate_captions(const std::string& model, const CaptionOptions& options) {
  VlmBundle bundle = load_vlm_bundle(model);
  if (options.greedy) bundle.generation.temperature = 0;
  bundle.generation.repetition_penalty = options.greedy ? 1.0 : bundle.generation.repetition_penalty;
  const auto full = open_all(options.data_path, 0);
  auto dataset = std::make_shared<data::Dataset>(*full);
  const int64_t end = options.end < 0 ? static_cast<int64_t>(full->size()) : std::min<int64_t>(options.end, full->size());
  dataset->samples.assign(full->samples.begin() + std::min<int64_t>(options.begin, end), full->samples.begin() + end);
  data::Loader loader(dataset, eval_loader_options(options.batch_size, bundle.preprocess));
  const std::string prompt = options.prompt.empty() ? bundle.default_prompt : options.prompt;
  std::vector<eval::run_files::CaptionRow> rows;
  eval::Predictions predictions;
  eval::References references;
  std::map<int, Tally> by_objects;
  while (auto batch = loader.next()) {
    const auto answers = generate_answers(bundle, batch->pixel_values,
                                          std::vector<std::string>(static_cast<size_t>(batch->size()), prompt));
    for (int64_t i = 0; i < batch->size(); ++i) {
      const auto& sample = *std::find_if(dataset->samples.begin(), dataset->samples.end(),
                                         [&](const data::SampleRef& s) { return s.key == batch->keys[i]; });
      rows.push_back({sample.path, sample.captions, answers[i]});
      predictions[batch->keys[i]] = answers[i];
      references[batch->keys[i]] = sample.captions;
      const auto want = colour_shape_pairs(sample.captions.front());
      if (!want.empty()) {
        Tally& t = by_objects[static_cast<int>(want.size())];
        ++t.total;
        t.right += colour_shape_pairs(answers[i]) == want ? 1 : 0;
      }
    }
  }
  CaptionResult result;
  result.images = static_cast<int64_t>(rows.size());
  // Over every image: one whose reference names no colour-shape pair counts as wrong.
  result.attribute_accuracy =
      rows.empty() ? 0 : static_cast<double>(sum_of(by_objects).right) / static_cast<double>(rows.size());
  result.attribute_by_objects = std::move(by_objects);
  result.metrics = eval::score_captions(predictions, references);
  if (!options.out_dir.empty()) {
    fs::create_directories(eval::run_files::eval_dir(options.out_dir));
    eval::run_files::write_captions(eval::run_files::captions_path(options.out_dir), rows);
    auto m = result.metrics;
    m["attribute_accuracy"] = result.attribute_accuracy;
    for (const auto& [n, t] : result.attribute_by_objects) {
      m[str("attribute_accuracy_", n, n == 1 ? "_object" : "_objects")] = t.share();
    }
    eval::run_files::write_caption_metrics(eval::run_files::caption_metrics_path(options.out_dir), m);
  }
  return result;
}

VqaResult evaluate_vqa(const std::string& model, const std::string& data_path, int64_t max_images) {
  VlmBundle bundle = load_vlm_bundle(model);
  bundle.generation.temperature = 0;
  bundle.generation.repetition_penalty = 1.0;
  bundle.generation.max_new_tokens = 8;
  const auto dataset = open_all(data_path, max_images);
  data::Loader loader(dataset, eval_loader_options(32, bundle.preprocess));
  VqaResult result;
  std::map<std::string, const data::SampleRef*> by_key;
  for (const auto& s : dataset->samples) by_key[s.key] = &s;
  while (auto batch = loader.next()) {
    std::vector<int64_t> image_of;
    std::vector<std::string> questions, answers;
    for (int64_t i = 0; i < batch->size(); ++i) {
      for (const auto& qa : by_key.at(batch->keys[i])->qa) {
        image_of.push_back(i);
        questions.push_back(qa.question);
        answers.push_back(qa.answer);
      }
    }
    if (questions.empty()) continue;
    const at::Tensor pixels = batch->pixel_values.index_select(0, torch::tensor(image_of, torch::kLong));
    const auto got = generate_answers(bundle, pixels, questions);
    for (size_t k = 0; k < got.size(); ++k) {
      Tally& t = result.by_kind[question_kind(questions[k])];
      ++t.total;
      t.right += normalise_answer(got[k]) == normalise_answer(answers[k]) ? 1 : 0;
    }
  }
  const Tally all = sum_of(result.by_kind);
  result.questions = all.total;
  result.accuracy = all.share();
  return result;
}

}  // namespace vlm::train
