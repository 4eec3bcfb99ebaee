// The demo's data: procedurally drawn scenes of one to three coloured shapes on a textured
// background, with captions that name every object and question-answer pairs about them.
// Deterministic for (seed, split, index); a fixed set of colour x shape pairs is held out of
// training so evaluation can tell composition from memorisation. Written from scratch: no
// dataset of this kind is small enough to ship, and a generator lets every test make its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace vlm::data {

enum class Shape { kCircle, kSquare, kTriangle, kStar, kCross };
enum class Color { kRed, kGreen, kBlue, kYellow, kPurple, kOrange, kWhite };
enum class ShapeSize { kSmall, kLarge };
enum class SyntheticSplit { kTrain, kHeldout };

constexpr int kNumShapes = 5;
constexpr int kNumColors = 7;

const char* shape_name(Shape shape);          // "circle"
const char* shape_plural(Shape shape);        // "circles", "crosses"
const char* color_name(Color color);          // "red"
const char* size_name(ShapeSize size);        // "small"
const char* split_name(SyntheticSplit split);  // "train", "heldout"

// The colour x shape pairs never drawn in training scenes: five of the 35 (14%), chosen so
// every colour but two and every shape still appears with other partners in training.
bool is_heldout_combo(Color color, Shape shape);
std::vector<std::pair<Color, Shape>> heldout_combos();

struct SceneObject {
  Shape shape = Shape::kCircle;
  Color color = Color::kRed;
  ShapeSize size = ShapeSize::kSmall;
  // Centre and circumradius as fractions of the image side (resolution independent).
  float cx = 0.5f;
  float cy = 0.5f;
  float radius = 0.1f;
  std::string phrase() const;  // "small red circle"
};

struct QA {
  std::string question;
  std::string answer;
};

struct SyntheticSample {
  Image image;
  std::string caption;
  std::vector<SceneObject> objects;
  std::vector<QA> qa;
  bool has_heldout_combo = false;
};

struct SyntheticConfig {
  uint64_t seed = 0;
  int image_size = 64;   // square images; 32..1024 (the demo uses 32-64, a ViT 224)
  int min_objects = 1;
  int max_objects = 3;   // at most 3
  void validate() const;  // throws ConfigError
};

// Spatial relation of a to b when it is unambiguous ("to the left of", "to the right of",
// "above", "below"), or empty when the two are too diagonal to say.
std::string relation(const SceneObject& a, const SceneObject& b);

// Scene `index` of `split`: train scenes never contain a held-out pair, held-out scenes
// contain at least one. The same (config, split, index) always gives the same sample.
SyntheticSample generate_sample(const SyntheticConfig& config, SyntheticSplit split, uint64_t index);

// Draws the objects of a scene onto its background at `size` x `size` pixels (anti-aliased
// by 4x4 supersampling). generate_sample calls this; exposed for re-rendering at another size.
Image render_scene(const std::vector<SceneObject>& objects, int size, uint64_t background_seed);

// Writes NNNNN.png for n_train train samples (indices 0..n_train-1 of the train split) then
// n_heldout held-out ones, and captions.jsonl with one {"image": "00000.png", "caption", "qa":
// [{"question", "answer"}], "split": "train"|"heldout"} per line, image names relative to the
// folder. Atomic: the folder appears complete or not at all.
void write_synthetic_dataset(const std::string& dir, const SyntheticConfig& config, int n_train, int n_heldout);

}  // namespace vlm::data
