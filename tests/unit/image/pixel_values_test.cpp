// The torch bridge: to_pixel_values stacks preprocess_into's buffers as (N, 3, H, W) float32 and
// refuses batches whose images would come out at different sizes.
#include "data/preprocess_torch.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "image_test_util.h"

namespace vlm::data {
namespace {

TEST(PixelValues, StacksPreprocessedImages) {
  PreprocessConfig config;
  config.height = 40;
  config.width = 48;
  const Image a = test::npy_image("images/alpha_png.decoded.npy");
  const Image b = test::npy_image("images/gray_png.decoded.npy");
  const at::Tensor pv = to_pixel_values({a, b}, config);
  EXPECT_EQ(pv.sizes(), (std::vector<int64_t>{2, 3, 40, 48}));
  EXPECT_EQ(pv.scalar_type(), torch::kFloat32);
  std::vector<float> expected(3 * 40 * 48);
  preprocess_into(b, config, expected.data());
  const at::Tensor second = pv[1].contiguous();
  EXPECT_EQ(std::memcmp(second.data_ptr<float>(), expected.data(), expected.size() * sizeof(float)), 0);
  // Gray input: the three channels are equal.
  EXPECT_TRUE(torch::equal(pv[1][0], pv[1][2]));
}

TEST(PixelValues, FromFilesAndErrors) {
  const at::Tensor pv = pixel_values_from_files({test::fixture("images/photo.jpg"), test::fixture("images/cmyk.jpg")});
  EXPECT_EQ(pv.sizes(), (std::vector<int64_t>{2, 3, 224, 224}));
  EXPECT_THROW(to_pixel_values({}), Error);
  PreprocessConfig aspect;
  aspect.shortest_edge = 32;  // no crop: 37x29 and 33x21 inputs come out at different sizes
  EXPECT_THROW(to_pixel_values({test::npy_image("images/alpha_png.decoded.npy"),
                                test::npy_image("images/gray16.expected.npy")},
                               aspect),
               Error);
  EXPECT_THROW(pixel_values_from_files({test::fixture("images/README.md")}), ImageError);
}

}  // namespace
}  // namespace vlm::data
