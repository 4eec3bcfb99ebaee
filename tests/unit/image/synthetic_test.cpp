// The synthetic scene generator: determinism, captions naming every object, held-out pairs kept
// out of training, answers that follow from the objects, no overlaps, the dataset folder.
#include "data/synthetic.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>

#include "image_test_util.h"

namespace vlm::data {
namespace {

constexpr int kSamples = 300;

SyntheticConfig config(int size = 48) {
  SyntheticConfig c;
  c.seed = 1234;
  c.image_size = size;
  return c;
}

TEST(Synthetic, DeterministicForSeedSplitIndex) {
  for (uint64_t i : {0, 1, 17}) {
    const SyntheticSample a = generate_sample(config(), SyntheticSplit::kTrain, i);
    const SyntheticSample b = generate_sample(config(), SyntheticSplit::kTrain, i);
    EXPECT_EQ(a.caption, b.caption);
    EXPECT_EQ(a.image.rgb, b.image.rgb);
    ASSERT_EQ(a.qa.size(), b.qa.size());
    for (size_t k = 0; k < a.qa.size(); ++k) EXPECT_EQ(a.qa[k].answer, b.qa[k].answer);
  }
  // Different index, seed or split: different scenes.
  const auto base = generate_sample(config(), SyntheticSplit::kTrain, 3);
  SyntheticConfig other = config();
  other.seed = 99;
  EXPECT_NE(base.image.rgb, generate_sample(config(), SyntheticSplit::kTrain, 4).image.rgb);
  EXPECT_NE(base.image.rgb, generate_sample(other, SyntheticSplit::kTrain, 3).image.rgb);
  EXPECT_NE(base.image.rgb, generate_sample(config(), SyntheticSplit::kHeldout, 3).image.rgb);
}

TEST(Synthetic, CaptionsNameEveryObjectsSizeColourAndShape) {
  for (int i = 0; i < kSamples; ++i) {
    const SyntheticSample s = generate_sample(config(), SyntheticSplit::kTrain, static_cast<uint64_t>(i));
    ASSERT_GE(s.objects.size(), 1u);
    ASSERT_LE(s.objects.size(), 3u);
    for (const SceneObject& o : s.objects) {
      EXPECT_NE(s.caption.find(o.phrase()), std::string::npos) << s.caption << " misses " << o.phrase();
    }
  }
}

TEST(Synthetic, HeldOutPairsOnlyInHeldOutScenes) {
  EXPECT_EQ(heldout_combos().size(), 5u);  // 5 of 35 colour x shape pairs
  int heldout_objects = 0;
  for (int i = 0; i < kSamples; ++i) {
    const SyntheticSample train = generate_sample(config(), SyntheticSplit::kTrain, static_cast<uint64_t>(i));
    EXPECT_FALSE(train.has_heldout_combo);
    for (const SceneObject& o : train.objects) EXPECT_FALSE(is_heldout_combo(o.color, o.shape)) << o.phrase();
    const SyntheticSample held = generate_sample(config(), SyntheticSplit::kHeldout, static_cast<uint64_t>(i));
    EXPECT_TRUE(held.has_heldout_combo);
    for (const SceneObject& o : held.objects) heldout_objects += is_heldout_combo(o.color, o.shape);
  }
  EXPECT_GE(heldout_objects, kSamples);
}

TEST(Synthetic, AllColoursAndShapesAppearInTraining) {
  std::map<std::string, int> seen;
  for (int i = 0; i < kSamples; ++i) {
    for (const SceneObject& o : generate_sample(config(), SyntheticSplit::kTrain, static_cast<uint64_t>(i)).objects) {
      ++seen[color_name(o.color)];
      ++seen[shape_name(o.shape)];
      ++seen[size_name(o.size)];
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kNumColors + kNumShapes + 2));
}

TEST(Synthetic, ObjectsDoNotOverlapAndStayInside) {
  for (int i = 0; i < kSamples; ++i) {
    const SyntheticSample s = generate_sample(config(), SyntheticSplit::kTrain, static_cast<uint64_t>(i));
    for (size_t a = 0; a < s.objects.size(); ++a) {
      const SceneObject& p = s.objects[a];
      EXPECT_GE(p.cx - p.radius, 0.0f);
      EXPECT_LE(p.cx + p.radius, 1.0f);
      EXPECT_GE(p.cy - p.radius, 0.0f);
      EXPECT_LE(p.cy + p.radius, 1.0f);
      for (size_t b = a + 1; b < s.objects.size(); ++b) {
        const SceneObject& q = s.objects[b];
        EXPECT_GT(std::hypot(p.cx - q.cx, p.cy - q.cy), p.radius + q.radius) << "sample " << i;
      }
      if (a > 0) {
        EXPECT_FALSE(relation(s.objects[a - 1], p).empty()) << "sample " << i;
      }
    }
  }
}

// Answers recomputed from the objects alone.
std::string expected_answer(const SyntheticSample& s, const std::string& q) {
  static const char* kNumbers[] = {"zero", "one", "two", "three"};
  auto count = [&](auto pred) {
    int n = 0;
    for (const SceneObject& o : s.objects) n += pred(o) ? 1 : 0;
    return n;
  };
  if (q == "How many shapes are there?") return kNumbers[s.objects.size()];
  for (int si = 0; si < kNumShapes; ++si) {
    const Shape sh = static_cast<Shape>(si);
    if (q == str("How many ", shape_plural(sh), " are there?")) return kNumbers[count([&](auto& o) { return o.shape == sh; })];
    if (q == str("What colour is the ", shape_name(sh), "?")) {
      if (count([&](auto& o) { return o.shape == sh; }) != 1) return "<ambiguous>";
      for (const SceneObject& o : s.objects) {
        if (o.shape == sh) return color_name(o.color);
      }
    }
    for (int ci = 0; ci < kNumColors; ++ci) {
      const Color c = static_cast<Color>(ci);
      const int n = count([&](auto& o) { return o.shape == sh && o.color == c; });
      if (q == str("Is there ", c == Color::kOrange ? "an " : "a ", color_name(c), " ", shape_name(sh), "?")) return n > 0 ? "yes" : "no";
      if (q == str("What size is the ", color_name(c), " ", shape_name(sh), "?")) {
        if (n != 1) return "<ambiguous>";
        for (const SceneObject& o : s.objects) {
        if (o.shape == sh && o.color == c) return size_name(o.size);
      }
      }
    }
  }
  for (int ci = 0; ci < kNumColors; ++ci) {
    const Color c = static_cast<Color>(ci);
    if (q == str("What shape is the ", color_name(c), " object?")) {
      if (count([&](auto& o) { return o.color == c; }) != 1) return "<ambiguous>";
      for (const SceneObject& o : s.objects) {
        if (o.color == c) return shape_name(o.shape);
      }
    }
  }
  if (q.rfind("Is the ", 0) == 0 && s.objects.size() >= 2) {  // relation of objects 0 and 1
    const std::string rel = relation(s.objects[0], s.objects[1]);
    const std::string truthful = str("Is the ", color_name(s.objects[0].color), " ", shape_name(s.objects[0].shape),
                                     " ", rel, " the ", color_name(s.objects[1].color), " ",
                                     shape_name(s.objects[1].shape), "?");
    return q == truthful ? "yes" : "no";
  }
  return "<unknown question>";
}

TEST(Synthetic, AnswersFollowFromTheObjects) {
  std::map<std::string, int> kinds;
  for (int i = 0; i < kSamples; ++i) {
    for (SyntheticSplit split : {SyntheticSplit::kTrain, SyntheticSplit::kHeldout}) {
      const SyntheticSample s = generate_sample(config(), split, static_cast<uint64_t>(i));
      EXPECT_GE(s.qa.size(), 4u);
      for (const QA& qa : s.qa) {
        EXPECT_EQ(qa.answer, expected_answer(s, qa.question)) << qa.question << " / " << s.caption;
        ++kinds[qa.question.substr(0, qa.question.find(' ', 5))];
        ++kinds["answer " + qa.answer];
      }
    }
  }
  EXPECT_GT(kinds["answer yes"], 0);
  EXPECT_GT(kinds["answer no"], 0);
  EXPECT_GT(kinds["answer two"], 0);
  EXPECT_GT(kinds["Is the"], 0);  // relation questions are asked
}

TEST(Synthetic, ShapesAreVisibleInTheirColour) {
  // The pixel at a large object's centre carries the object's colour (the palette's dominant
  // channel), at the demo's smallest size.
  int checked = 0;
  for (int i = 0; i < 100; ++i) {
    const SyntheticSample s = generate_sample(config(32), SyntheticSplit::kTrain, static_cast<uint64_t>(i));
    for (const SceneObject& o : s.objects) {
      if (o.shape == Shape::kStar || o.shape == Shape::kTriangle) continue;  // thin centres at 32 px
      const uint8_t* p = s.image.pixel(static_cast<int>(o.cx * 32), static_cast<int>(o.cy * 32));
      switch (o.color) {
        case Color::kRed: EXPECT_GT(p[0], p[1] + 100); break;
        case Color::kGreen: EXPECT_GT(p[1], p[0] + 80); break;
        case Color::kBlue: EXPECT_GT(p[2], p[0] + 100); break;
        case Color::kWhite: EXPECT_GT(p[1], 200); break;
        default: EXPECT_GT(std::max({p[0], p[1], p[2]}), 150); break;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
}

TEST(Synthetic, RendersAt224AndRejectsBadConfig) {
  const SyntheticSample s = generate_sample(config(224), SyntheticSplit::kTrain, 5);
  EXPECT_EQ(s.image.width, 224);
  EXPECT_EQ(s.image.rgb.size(), 224u * 224 * 3);
  SyntheticConfig bad = config();
  bad.max_objects = 4;
  EXPECT_THROW(generate_sample(bad, SyntheticSplit::kTrain, 0), ConfigError);
  bad = config(8);
  EXPECT_THROW(bad.validate(), ConfigError);
}

TEST(Synthetic, WritesADatasetFolder) {
  test::TempDir dir;
  const std::string out = dir.path() + "/shapes";
  write_synthetic_dataset(out, config(32), 6, 3);
  std::ifstream in(out + "/captions.jsonl");
  std::string line;
  int rows = 0, heldout = 0;
  while (std::getline(in, line)) {
    const auto row = nlohmann::json::parse(line);
    const std::string image = row.at("image");
    EXPECT_EQ(image, str(rows < 10 ? "0000" : "000", rows, ".png"));
    const Image decoded = decode_image_file(out + "/" + image);
    const SyntheticSplit split = row.at("split") == "train" ? SyntheticSplit::kTrain : SyntheticSplit::kHeldout;
    const SyntheticSample s = generate_sample(config(32), split, static_cast<uint64_t>(rows < 6 ? rows : rows - 6));
    EXPECT_EQ(decoded.rgb, s.image.rgb);
    EXPECT_EQ(row.at("caption"), s.caption);
    EXPECT_EQ(row.at("qa").size(), s.qa.size());
    heldout += split == SyntheticSplit::kHeldout;
    ++rows;
  }
  EXPECT_EQ(rows, 9);
  EXPECT_EQ(heldout, 3);
}

}  // namespace
}  // namespace vlm::data
