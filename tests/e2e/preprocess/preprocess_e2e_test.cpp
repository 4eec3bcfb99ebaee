// `vlm preprocess` end to end: a model folder with a preprocessor_config.json, real image files,
// the safetensors it writes read back and compared with the PIL/transformers reference values
// (max |d| <= 1e-6), and the errors a user meets (bad image, missing flags).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "io/tensor_store.h"
#include "test_util.h"
#include "unit/image/image_test_util.h"

namespace {

using vlm::test::fixture;
using vlm::test::run_vlm;

std::string make_model_dir(const vlm::test::TempDir& dir, int size) {
  const std::string model = dir.path() + "/vit";
  std::filesystem::create_directories(model);
  std::ofstream(model + "/preprocessor_config.json")
      << R"({"do_normalize": true, "do_rescale": true, "do_resize": true, "image_mean": [0.5, 0.5, 0.5],
            "image_processor_type": "ViTImageProcessor", "image_std": [0.5, 0.5, 0.5], "resample": 2,
            "rescale_factor": 0.00392156862745098, "size": {"height": )"
      << size << R"(, "width": )" << size << "}}";
  return model;
}

TEST(PreprocessCommand, WritesPixelValuesMatchingTransformers) {
  vlm::test::TempDir dir;
  const std::string model = make_model_dir(dir, 64);
  const std::string out = dir.path() + "/pv.safetensors";
  const auto result = run_vlm("preprocess --model " + model + " --out " + out + " " + fixture("images/photo.jpg") +
                              " " + fixture("images/alpha.png") + " " + fixture("images/lossy.webp"));
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("[3, 3, 64, 64]"), std::string::npos) << result.output;
  const auto store = vlm::io::TensorStore::open(out);
  const at::Tensor pv = store.get("pixel_values");
  ASSERT_EQ(pv.dim(), 4);
  EXPECT_EQ(pv.size(0), 3);
  EXPECT_EQ(pv.size(1), 3);
  EXPECT_EQ(pv.size(2), 64);
  EXPECT_EQ(pv.size(3), 64);
  EXPECT_EQ(pv.scalar_type(), at::kFloat);
  // Every image, in the order given, against its transformers reference.
  const char* references[] = {"images/normalized_vit64.npy", "images/normalized_vit64_alpha_png.npy",
                              "images/normalized_vit64_lossy_webp.npy"};
  for (int64_t k = 0; k < 3; ++k) {
    const std::vector<float> expected = vlm::test::npy_floats(references[k]);
    const at::Tensor image = pv[k].contiguous();
    ASSERT_EQ(static_cast<size_t>(image.numel()), expected.size()) << references[k];
    const float* got = image.data_ptr<float>();
    double max_diff = 0;
    for (size_t i = 0; i < expected.size(); ++i) max_diff = std::max(max_diff, std::fabs(double{got[i]} - expected[i]));
    EXPECT_LE(max_diff, 1e-6) << "image " << k << " vs " << references[k];
  }
  EXPECT_LE(pv.max().item<float>(), 1.0f);
  EXPECT_GE(pv.min().item<float>(), -1.0f);
}

TEST(PreprocessCommand, BadImageIsOneClearError) {
  vlm::test::TempDir dir;
  const std::string model = make_model_dir(dir, 32);
  const std::string bad = dir.path() + "/notes.jpg";
  std::ofstream(bad) << "this is not a picture";
  const auto result = run_vlm("preprocess --model " + model + " --out " + dir.path() + "/x.safetensors " + bad);
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.output.find("notes.jpg"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("not a JPEG, PNG or WebP"), std::string::npos) << result.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/x.safetensors"));
}

TEST(PreprocessCommand, UsageErrors) {
  vlm::test::TempDir dir;
  EXPECT_EQ(run_vlm("preprocess --out x.safetensors a.jpg").status, 2);
  EXPECT_EQ(run_vlm("preprocess --model " + make_model_dir(dir, 32) + " --out x.safetensors").status, 2);
  EXPECT_EQ(run_vlm("preprocess --model /nonexistent --out x.safetensors a.jpg").status, 1);
  EXPECT_EQ(run_vlm("preprocess --help").status, 0);
}

}  // namespace
