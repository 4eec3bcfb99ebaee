// The synthetic shapes generator behind `vlm demo`: scene layout (non-overlapping objects with
// unambiguous pairwise relations), captions from templates that name every object, and
// question-answer pairs whose answers follow from the objects alone. Rendering lives in
// synthetic_render.cpp. All randomness comes from a counter-based hash of (seed, split, index),
// never from std:: distributions, whose output differs between standard libraries.
#include "data/synthetic.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <exception>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/synthetic_internal.h"
#include "io/atomic_file.h"

namespace vlm::data {
namespace {

constexpr std::array<const char*, 4> kNumberWords = {"zero", "one", "two", "three"};

// Radii (fraction of the image side) by size class: small and large stay apart even at 32 px.
constexpr float kSmallMin = 0.11f, kSmallMax = 0.13f, kLargeMin = 0.18f, kLargeMax = 0.21f;
constexpr float kGap = 0.03f;  // empty space between two objects' circumcircles

Color random_color(SplitMix& rng) { return static_cast<Color>(rng.below(kNumColors)); }
Shape random_shape(SplitMix& rng) { return static_cast<Shape>(rng.below(kNumShapes)); }

// Attributes of one object; train scenes re-draw held-out pairs, `force_heldout` picks one.
void pick_attributes(SceneObject& o, SplitMix& rng, SyntheticSplit split, bool force_heldout) {
  if (force_heldout) {
    const auto combos = heldout_combos();
    const auto& [color, shape] = combos[static_cast<size_t>(rng.below(static_cast<int>(combos.size())))];
    o.color = color;
    o.shape = shape;
  } else {
    do {
      o.color = random_color(rng);
      o.shape = random_shape(rng);
    } while (split == SyntheticSplit::kTrain && is_heldout_combo(o.color, o.shape));
  }
  o.size = rng.below(2) == 0 ? ShapeSize::kSmall : ShapeSize::kLarge;
  o.radius = o.size == ShapeSize::kSmall ? rng.uniform(kSmallMin, kSmallMax) : rng.uniform(kLargeMin, kLargeMax);
}

bool overlaps(const SceneObject& a, const SceneObject& b) {
  return std::hypot(a.cx - b.cx, a.cy - b.cy) < a.radius + b.radius + kGap;
}

// Places objects so that none overlap and each consecutive pair has a sayable relation.
// Falls back to a row of small objects if random placement keeps failing (about never).
void place(std::vector<SceneObject>& objects, SplitMix& rng) {
  for (int attempt = 0; attempt < 500; ++attempt) {
    bool ok = true;
    for (size_t i = 0; i < objects.size() && ok; ++i) {
      SceneObject& o = objects[i];
      const float lo = o.radius + 0.02f, hi = 1.0f - o.radius - 0.02f;
      o.cx = rng.uniform(lo, hi);
      o.cy = rng.uniform(lo, hi);
      for (size_t j = 0; j < i && ok; ++j) ok = !overlaps(o, objects[j]);
      if (ok && i > 0) ok = !relation(objects[i - 1], o).empty();
    }
    if (ok) return;
  }
  for (size_t i = 0; i < objects.size(); ++i) {
    SceneObject& o = objects[i];
    o.size = ShapeSize::kSmall;
    o.radius = kSmallMin;
    o.cx = (static_cast<float>(i) + 0.5f) / static_cast<float>(objects.size());
    o.cy = 0.5f;
  }
}

const char* article(Color c) { return c == Color::kOrange ? "an" : "a"; }

std::string a_phrase(const SceneObject& o) { return "a " + o.phrase(); }
std::string the_name(const SceneObject& o) { return std::string("the ") + color_name(o.color) + " " + shape_name(o.shape); }

std::string make_caption(const std::vector<SceneObject>& objs, SplitMix& rng) {
  const int n = static_cast<int>(objs.size());
  if (n == 1) {
    static const char* kOne[] = {"{0}", "there is {0}", "{0} on a textured background", "a picture of {0}",
                                 "one shape: {0}", "an image showing {0}", "{0} in the picture"};
    std::string t = kOne[rng.below(7)];
    return t.replace(t.find("{0}"), 3, a_phrase(objs[0]));
  }
  const std::string p0 = a_phrase(objs[0]), p1 = a_phrase(objs[1]);
  const std::string r01 = relation(objs[0], objs[1]);
  if (n == 2) {
    switch (rng.below(5)) {
      case 0: return p0 + " " + r01 + " " + p1;
      case 1: return "there is " + p0 + " " + r01 + " " + p1;
      case 2: return "two shapes: " + p0 + " and " + p1;
      case 3: return "two shapes: " + p0 + " " + r01 + " " + p1;
      default: return p0 + " and " + p1 + " on a textured background";
    }
  }
  const std::string p2 = a_phrase(objs[2]);
  const std::string r12 = relation(objs[1], objs[2]);
  switch (rng.below(4)) {
    case 0: return "three shapes: " + p0 + ", " + p1 + " and " + p2;
    case 1: return p0 + " " + r01 + " " + p1 + ", which is " + r12 + " " + p2;
    case 2: return "there are three shapes: " + p0 + " " + r01 + " " + p1 + ", and " + p2;
    default: return p0 + ", " + p1 + " and " + p2 + " on a textured background";
  }
}

const char* opposite(const std::string& rel) {
  if (rel == "to the left of") return "to the right of";
  if (rel == "to the right of") return "to the left of";
  if (rel == "above") return "below";
  return "above";
}

std::vector<QA> make_qa(const std::vector<SceneObject>& objs, SplitMix& rng) {
  std::vector<QA> qa;
  std::array<int, kNumShapes> by_shape{};
  std::array<int, kNumColors> by_color{};
  std::array<std::array<int, kNumShapes>, kNumColors> by_pair{};
  for (const SceneObject& o : objs) {
    ++by_shape[static_cast<size_t>(o.shape)];
    ++by_color[static_cast<size_t>(o.color)];
    ++by_pair[static_cast<size_t>(o.color)][static_cast<size_t>(o.shape)];
  }
  auto unique_pair = [&](const SceneObject& o) {
    return by_pair[static_cast<size_t>(o.color)][static_cast<size_t>(o.shape)] == 1;
  };
  qa.push_back({"How many shapes are there?", kNumberWords[objs.size()]});
  for (const SceneObject& o : objs) {
    if (by_shape[static_cast<size_t>(o.shape)] == 1) {
      qa.push_back({str("What colour is the ", shape_name(o.shape), "?"), color_name(o.color)});
    }
    if (by_color[static_cast<size_t>(o.color)] == 1) {
      qa.push_back({str("What shape is the ", color_name(o.color), " object?"), shape_name(o.shape)});
    }
    if (unique_pair(o)) qa.push_back({str("What size is ", the_name(o), "?"), size_name(o.size)});
  }
  const Shape counted = random_shape(rng);
  qa.push_back({str("How many ", shape_plural(counted), " are there?"),
                kNumberWords[static_cast<size_t>(by_shape[static_cast<size_t>(counted)])]});
  const SceneObject& present = objs[static_cast<size_t>(rng.below(static_cast<int>(objs.size())))];
  qa.push_back({str("Is there ", article(present.color), " ", color_name(present.color), " ",
                    shape_name(present.shape), "?"),
                "yes"});
  for (int attempt = 0; attempt < 50; ++attempt) {
    const Color c = random_color(rng);
    const Shape s = random_shape(rng);
    if (by_pair[static_cast<size_t>(c)][static_cast<size_t>(s)] == 0) {
      qa.push_back({str("Is there ", article(c), " ", color_name(c), " ", shape_name(s), "?"), "no"});
      break;
    }
  }
  if (objs.size() >= 2 && unique_pair(objs[0]) && unique_pair(objs[1])) {
    const std::string rel = relation(objs[0], objs[1]);
    const bool truthful = rng.below(2) == 0;
    qa.push_back({str("Is ", the_name(objs[0]), " ", truthful ? rel : std::string(opposite(rel)), " ",
                      the_name(objs[1]), "?"),
                  truthful ? "yes" : "no"});
  }
  return qa;
}

}  // namespace

const char* shape_name(Shape shape) {
  static const char* kNames[] = {"circle", "square", "triangle", "star", "cross"};
  return kNames[static_cast<int>(shape)];
}
const char* shape_plural(Shape shape) {
  static const char* kNames[] = {"circles", "squares", "triangles", "stars", "crosses"};
  return kNames[static_cast<int>(shape)];
}
const char* color_name(Color color) {
  static const char* kNames[] = {"red", "green", "blue", "yellow", "purple", "orange", "white"};
  return kNames[static_cast<int>(color)];
}
const char* size_name(ShapeSize size) { return size == ShapeSize::kSmall ? "small" : "large"; }
const char* split_name(SyntheticSplit split) { return split == SyntheticSplit::kTrain ? "train" : "heldout"; }

std::vector<std::pair<Color, Shape>> heldout_combos() {
  return {{Color::kRed, Shape::kStar},
          {Color::kGreen, Shape::kTriangle},
          {Color::kBlue, Shape::kCross},
          {Color::kYellow, Shape::kCircle},
          {Color::kPurple, Shape::kSquare}};
}

bool is_heldout_combo(Color color, Shape shape) {
  for (const auto& [c, s] : heldout_combos()) {
    if (c == color && s == shape) return true;
  }
  return false;
}

std::string SceneObject::phrase() const { return str(size_name(size), " ", color_name(color), " ", shape_name(shape)); }

void SyntheticConfig::validate() const {
  if (image_size < 16 || image_size > 1024) throw ConfigError("image_size", str("must be 16..1024, got ", image_size));
  if (min_objects < 1 || max_objects > 3 || min_objects > max_objects) {
    throw ConfigError("max_objects", str("need 1 <= min_objects <= max_objects <= 3, got ", min_objects, "..",
                                         max_objects));
  }
}

std::string relation(const SceneObject& a, const SceneObject& b) {
  const float dx = a.cx - b.cx, dy = a.cy - b.cy;  // image y grows downwards
  if (std::fabs(dx) > 2.0f * std::fabs(dy)) return dx < 0 ? "to the left of" : "to the right of";
  if (std::fabs(dy) > 2.0f * std::fabs(dx)) return dy < 0 ? "above" : "below";
  return {};
}

SyntheticSample generate_sample(const SyntheticConfig& config, SyntheticSplit split, uint64_t index) {
  config.validate();
  SplitMix rng(mix_seed(config.seed, static_cast<uint64_t>(split) + 1, index));
  SyntheticSample sample;
  const int n = config.min_objects + rng.below(config.max_objects - config.min_objects + 1);
  sample.objects.resize(static_cast<size_t>(n));
  const int heldout_slot = split == SyntheticSplit::kHeldout ? rng.below(n) : -1;
  for (int i = 0; i < n; ++i) pick_attributes(sample.objects[static_cast<size_t>(i)], rng, split, i == heldout_slot);
  place(sample.objects, rng);
  for (const SceneObject& o : sample.objects) sample.has_heldout_combo |= is_heldout_combo(o.color, o.shape);
  sample.caption = make_caption(sample.objects, rng);
  sample.qa = make_qa(sample.objects, rng);
  sample.image = render_scene(sample.objects, config.image_size, rng.next());
  return sample;
}

void write_synthetic_dataset(const std::string& dir, const SyntheticConfig& config, int n_train, int n_heldout) {
  config.validate();
  if (n_train < 0 || n_heldout < 0 || n_train + n_heldout > 99999) {
    throw Error(str("synthetic dataset: need 0..99999 samples, got ", n_train, " + ", n_heldout));
  }
  // Samples are drawn by index (generate_sample), so threads can draw and encode them in any
  // order; the captions file then lists them in index order. Files go straight into the temporary
  // folder: write_dir_atomic fsyncs them all once at the end.
  io::write_dir_atomic(dir, [&](const std::string& tmp) {
    const int total = n_train + n_heldout;
    std::vector<std::string> rows(static_cast<size_t>(total));
    auto draw = [&](int file_index) {
      const bool train = file_index < n_train;
      const SyntheticSplit split = train ? SyntheticSplit::kTrain : SyntheticSplit::kHeldout;
      const SyntheticSample s =
          generate_sample(config, split, static_cast<uint64_t>(train ? file_index : file_index - n_train));
      char name[32];
      std::snprintf(name, sizeof(name), "%05d.png", file_index);
      const std::vector<uint8_t> png = encode_png(s.image);
      std::ofstream file(tmp + "/" + name, std::ios::binary);
      file.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
      if (!file.flush()) throw FileError(tmp + "/" + name, "write failed");
      nlohmann::json row = {{"image", name}, {"caption", s.caption}, {"split", split_name(split)}};
      row["qa"] = nlohmann::json::array();
      for (const QA& q : s.qa) row["qa"].push_back({{"question", q.question}, {"answer", q.answer}});
      rows[static_cast<size_t>(file_index)] = row.dump();
    };
    const int workers = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 8);
    std::atomic<int> next{0};
    std::exception_ptr failure;
    std::mutex failure_mutex;
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        try {
          for (int i = next++; i < total; i = next++) draw(i);
        } catch (...) {
          const std::lock_guard<std::mutex> lock(failure_mutex);
          if (!failure) failure = std::current_exception();
          next = total;
        }
      });
    }
    for (auto& t : threads) t.join();
    if (failure) std::rethrow_exception(failure);
    std::ofstream lines(tmp + "/captions.jsonl");
    for (const std::string& row : rows) lines << row << "\n";
    lines.flush();
    if (!lines) throw FileError(tmp + "/captions.jsonl", "write failed");
  });
}

}  // namespace vlm::data
