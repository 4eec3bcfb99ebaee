#include "inference/evaluate.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <numeric>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "data/loader.h"
#include "data/split.h"
#include "data/synthetic.h"
#include "eval/caption_metrics.h"
#include "eval/grid.h"
#include "eval/retrieval_blocks.h"
#include "eval/run_files.h"
#include "inference/builders.h"
#include "inference/stage1_model.h"
#include "inference/vlm_bundle.h"
#include "io/atomic_file.h"

namespace fs = std::filesystem;

namespace vlm::inference {
namespace {

// The samples of `split`, split as training split them: the model's data.val_fraction and
// data.split_seed (the defaults, 0.1 and 42, for a model without a run config). The path is made
// absolute, so files written from it (captions.csv) name images wherever they are read.
std::shared_ptr<data::Dataset> open_eval_set(const std::string& path, EvalSplit split,
                                             const std::optional<config::RunConfig>& trained, int64_t max_samples) {
  data::DataSpec spec;
  spec.path = fs::absolute(path).lexically_normal().string();
  if (trained && fs::exists(trained->data.path) && fs::equivalent(trained->data.path, spec.path)) {
    spec.format = trained->data.format;  // the training data: read it as training did
    spec.image_column = trained->data.image_column;
    spec.caption_column = trained->data.caption_column;
  }
  auto dataset = data::open_dataset(spec);
  if (split != EvalSplit::kAll) {
    const config::DataSection defaults;
    const double fraction = trained ? trained->data.val_fraction : defaults.val_fraction;
    const auto seed = static_cast<uint64_t>(trained ? trained->data.split_seed : defaults.split_seed);
    if (!trained) log::warn("no run config beside the model: splitting ", path, " with the default data.val_fraction ",
                            fraction, " and data.split_seed ", seed);
    const auto parts = data::split_dataset(*dataset, fraction, seed);
    const auto& keep = split == EvalSplit::kTrain ? parts.train : parts.validation;
    if (keep.empty()) {
      throw Error(str("the ", eval_split_name(split), " split of ", path, " is empty (", dataset->size(),
                      " samples, val_fraction ", fraction, ")"),
                  "evaluate every sample with --split all");
    }
    std::vector<data::SampleRef> kept;
    kept.reserve(keep.size());
    for (const int64_t i : keep) kept.push_back(std::move(dataset->samples[static_cast<size_t>(i)]));
    dataset->samples = std::move(kept);
  }
  if (max_samples > 0 && static_cast<int64_t>(dataset->size()) > max_samples) {
    dataset->samples.resize(static_cast<size_t>(max_samples));
  }
  log::info("evaluating ", dataset->size(), " samples of ", path, " (", eval_split_name(split), " split)");
  return dataset;
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

EvalSplit parse_eval_split(const std::string& text) {
  if (text == "val") return EvalSplit::kValidation;
  if (text == "train") return EvalSplit::kTrain;
  if (text == "all") return EvalSplit::kAll;
  throw UsageError("--split wants val, train or all, got '" + text + "'");
}

const char* eval_split_name(EvalSplit split) {
  return split == EvalSplit::kValidation ? "val" : split == EvalSplit::kTrain ? "train" : "all";
}

eval::RetrievalMetrics evaluate_retrieval(const std::string& model, const RetrievalOptions& options) {
  torch::NoGradGuard no_grad;
  Stage1Model m = load_stage1(model);
  const auto dataset = open_eval_set(options.data_path, options.split, m.config, options.max_images);
  data::Loader loader(dataset, eval_loader_options(options.batch_size, m.preprocess));
  std::map<std::string, const data::SampleRef*> by_key;
  for (const auto& s : dataset->samples) by_key[s.key] = &s;
  // Images that decode, in key order; every caption of each is a text.
  std::vector<at::Tensor> image_embeds;
  std::vector<const data::SampleRef*> images;
  while (auto batch = loader.next()) {
    image_embeds.push_back(m.embed_images(batch->pixel_values));  // (B, Q, E)
    for (const auto& key : batch->keys) images.push_back(by_key.at(key));
  }
  if (images.empty()) throw Error("no image of " + options.data_path + " could be decoded for retrieval");
  std::vector<std::string> captions;
  std::vector<int64_t> text_to_image;
  for (size_t i = 0; i < images.size(); ++i) {
    for (const auto& c : images[i]->captions) {
      captions.push_back(c);
      text_to_image.push_back(static_cast<int64_t>(i));
    }
  }
  std::vector<at::Tensor> text_embeds;
  for (size_t start = 0; start < captions.size(); start += static_cast<size_t>(options.batch_size)) {
    const size_t end = std::min(captions.size(), start + static_cast<size_t>(options.batch_size));
    text_embeds.push_back(m.embed_texts({captions.begin() + static_cast<long>(start), captions.begin() + static_cast<long>(end)}));
  }
  const at::Tensor images_e = torch::cat(image_embeds), texts_e = torch::cat(text_embeds);  // (N, Q, E), (T, E)
  const eval::BlockSimilarity similarity = [&m](const at::Tensor& i, const at::Tensor& t) {
    return m.similarity(i, t).to(torch::kCPU, torch::kFloat32);  // (bi, bt)
  };
  const auto metrics = eval::metrics_from_ranks(eval::blockwise_retrieval_ranks(
      images_e, texts_e, text_to_image, similarity, captions, {.max_block_bytes = options.max_block_bytes}));
  if (!options.out_dir.empty()) {
    fs::create_directories(eval::run_files::eval_dir(options.out_dir));
    eval::run_files::write_retrieval(eval::run_files::retrieval_path(options.out_dir), metrics);
    // The grid: the first images against the first caption of each.
    const auto g = std::min<int64_t>(options.grid_images, static_cast<int64_t>(images.size()));
    std::vector<data::Image> grid_images;
    std::vector<std::string> grid_captions;
    std::vector<int64_t> first_caption;
    for (int64_t i = 0; i < g; ++i) {
      grid_images.push_back(data::decode_image(data::read_bytes(*images[i]), images[i]->key));
      grid_captions.push_back(images[i]->captions.front());
      first_caption.push_back(std::find(text_to_image.begin(), text_to_image.end(), i) - text_to_image.begin());
    }
    const at::Tensor sub =
        similarity(images_e.slice(0, 0, g), texts_e.index_select(0, torch::tensor(first_caption))).contiguous();  // (g, g)
    std::vector<int64_t> diagonal(static_cast<size_t>(g));
    std::iota(diagonal.begin(), diagonal.end(), 0);
    eval::write_similarity_grid(eval::run_files::grid_path(options.out_dir), grid_images,
                                {sub.data_ptr<float>(), static_cast<size_t>(sub.numel())}, g, diagonal);
    eval::run_files::write_grid_captions(eval::run_files::grid_captions_path(options.out_dir), grid_captions);
  }
  return metrics;
}

eval::ZeroShotResult evaluate_zeroshot(const std::string& model, const ZeroShotOptions& options) {
  torch::NoGradGuard no_grad;
  Stage1Model m = load_stage1(model);
  const auto dataset = open_eval_set(options.data_path, EvalSplit::kAll, std::nullopt, options.max_images);
  std::set<std::string> names;
  for (const auto& s : dataset->samples) {
    if (s.captions.empty()) throw FileError(s.path.empty() ? s.key : s.path, "has no label (caption)");
    names.insert(s.captions.front());
  }
  const std::vector<std::string> classes(names.begin(), names.end());
  const auto templates = options.templates.empty() ? eval::default_zeroshot_templates() : options.templates;
  std::vector<at::Tensor> per_class;
  for (const auto& c : classes) {
    std::vector<std::string> texts;
    for (const auto& t : templates) texts.push_back(eval::fill_template(t, c));
    per_class.push_back(m.embed_texts(texts));  // (K, E)
  }
  const at::Tensor classifier = eval::class_embeddings(torch::stack(per_class));  // (C, E)
  data::Loader loader(dataset, eval_loader_options(options.batch_size, m.preprocess));
  std::map<std::string, int64_t> label_of;
  for (const auto& s : dataset->samples) {
    label_of[s.key] = std::lower_bound(classes.begin(), classes.end(), s.captions.front()) - classes.begin();
  }
  std::vector<at::Tensor> scores;
  std::vector<int64_t> labels;
  while (auto batch = loader.next()) {
    scores.push_back(m.similarity(m.embed_images(batch->pixel_values), classifier).to(torch::kCPU));  // (B, C)
    for (const auto& key : batch->keys) labels.push_back(label_of.at(key));
  }
  if (labels.empty()) throw Error("no image of " + options.data_path + " could be decoded for zero-shot");
  auto result = eval::score_zeroshot(torch::cat(scores), labels, classes);
  if (!options.out_dir.empty()) {
    fs::create_directories(eval::run_files::eval_dir(options.out_dir));
    io::write_file_atomic(eval::run_files::eval_dir(options.out_dir) + "/zeroshot.json",
                          eval::zeroshot_json(result).dump(2));
  }
  return result;
}

CaptionResult evaluate_captions(const std::string& model, const CaptionOptions& options) {
  VlmBundle bundle = load_vlm_bundle(model);
  if (options.greedy) bundle.generation.temperature = 0;
  bundle.generation.repetition_penalty = options.greedy ? 1.0 : bundle.generation.repetition_penalty;
  const auto full = open_eval_set(options.data_path, options.split, trained_config(bundle.source), 0);
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

VqaResult evaluate_vqa(const std::string& model, const std::string& data_path, EvalSplit split, int64_t max_images) {
  VlmBundle bundle = load_vlm_bundle(model);
  bundle.generation.temperature = 0;
  bundle.generation.repetition_penalty = 1.0;
  bundle.generation.max_new_tokens = 8;
  const auto dataset = open_eval_set(data_path, split, trained_config(bundle.source), max_images);
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

}  // namespace vlm::inference
