// TensorStore and tensor_from_file: zero-copy views that keep the mapping alive, the copy
// fallback for unaligned data, HF folders (single file, sharded index) and every index error.
#include "io/tensor_store.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "test_util.h"

using vlm::io::SafetensorsFile;
using vlm::io::TensorStore;

namespace {

std::string open_error(const std::string& path) {
  try {
    TensorStore::open(path);
  } catch (const vlm::FileError& e) {
    return e.what();
  }
  return "no error";
}

void write_index(const std::string& dir, const std::string& json) {
  std::ofstream(dir + "/model.safetensors.index.json") << json;
}

}  // namespace

TEST(TensorStore, ZeroCopyViewPointsIntoTheMappingAndKeepsItAlive) {
  vlm::test::TempDir dir;
  const std::string path = dir.path() + "/w.safetensors";
  vlm::io::save_tensors(path, {{"w", torch::arange(16, torch::kFloat)}, {"h", torch::ones({2}, torch::kBFloat16)}});
  at::Tensor t, h;
  {
    const auto file = SafetensorsFile::open(path);
    t = vlm::io::tensor_from_file(file, file->at("w"));
    const auto bytes = file->bytes(file->at("w"));
    EXPECT_EQ(t.data_ptr(), static_cast<const void*>(bytes.data()));
    const auto store = TensorStore::open(path);
    h = store.get("h");
    // Views of one mapping: their addresses differ exactly by their file offsets.
    const auto* w_ptr = static_cast<const uint8_t*>(store.get("w").data_ptr());
    EXPECT_EQ(static_cast<const uint8_t*>(h.data_ptr()) - w_ptr,
              static_cast<std::ptrdiff_t>(store.info("h").begin - store.info("w").begin));
  }
  // File and store are gone; the tensors' deleters still hold the mapping.
  std::filesystem::remove(path);
  EXPECT_FLOAT_EQ(t[15].item<float>(), 15.0f);
  EXPECT_EQ(h.scalar_type(), torch::kBFloat16);
  EXPECT_FLOAT_EQ(h[1].item<float>(), 1.0f);
}

TEST(TensorStore, UnalignedDataIsCopiedNotViewed) {
  // A header of 9 bytes puts the data section at offset 17: an F32 there cannot be viewed.
  vlm::test::TempDir dir;
  const std::string path = dir.path() + "/odd.safetensors";
  const std::string header = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string raw(8, '\0');
  raw[0] = static_cast<char>(header.size());
  raw += header;
  const float values[2] = {1.5f, -2.0f};
  raw.append(reinterpret_cast<const char*>(values), 8);
  ASSERT_NE((8 + header.size()) % 4, 0u);
  std::ofstream(path, std::ios::binary) << raw;
  const auto store = TensorStore::open(path);
  const at::Tensor t = store.get("t");
  EXPECT_TRUE(torch::equal(t, torch::tensor({1.5f, -2.0f})));
}

TEST(TensorStore, FolderWithModelSafetensors) {
  vlm::test::TempDir dir;
  vlm::io::save_tensors(dir.path() + "/model.safetensors", {{"b", torch::ones({2})}, {"a", torch::zeros({3})}},
                        {{"format", "pt"}});
  const auto store = TensorStore::open(dir.path());
  EXPECT_EQ(store.names(), (std::vector<std::string>{"a", "b"}));  // sorted
  EXPECT_TRUE(store.contains("a"));
  EXPECT_FALSE(store.contains("c"));
  EXPECT_EQ(store.info("a").shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(store.metadata().at("format"), "pt");
  EXPECT_EQ(store.file_of("b"), dir.path() + "/model.safetensors");
}

TEST(TensorStore, ShardedCheckpointThroughIndex) {
  vlm::test::TempDir dir;
  vlm::io::save_tensors(dir.path() + "/model-00001-of-00002.safetensors", {{"a", torch::ones({2})}});
  vlm::io::save_tensors(dir.path() + "/model-00002-of-00002.safetensors",
                        {{"b", torch::full({3}, 2.0f)}, {"c", torch::arange(4, torch::kLong)}});
  const nlohmann::json index = {{"metadata", {{"total_size", 52}}},
                                {"weight_map",
                                 {{"a", "model-00001-of-00002.safetensors"},
                                  {"b", "model-00002-of-00002.safetensors"},
                                  {"c", "model-00002-of-00002.safetensors"}}}};
  write_index(dir.path(), index.dump());
  const auto store = TensorStore::open(dir.path());
  EXPECT_EQ(store.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(torch::equal(store.get("a"), torch::ones({2})));
  EXPECT_TRUE(torch::equal(store.get("b"), torch::full({3}, 2.0f)));
  EXPECT_TRUE(torch::equal(store.get("c"), torch::arange(4, torch::kLong)));
  EXPECT_EQ(store.file_of("a"), dir.path() + "/model-00001-of-00002.safetensors");
  EXPECT_EQ(store.file_of("c"), dir.path() + "/model-00002-of-00002.safetensors");
}

TEST(TensorStore, IndexErrorsNameTheFileAndTheProblem) {
  vlm::test::TempDir dir;
  const std::string index = dir.path() + "/model.safetensors.index.json";
  vlm::io::save_tensors(dir.path() + "/s1.safetensors", {{"a", torch::ones({2})}});
  vlm::io::save_tensors(dir.path() + "/s2.safetensors", {{"a", torch::ones({2})}, {"b", torch::ones({1})}});

  write_index(dir.path(), R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}})");
  EXPECT_EQ(open_error(dir.path()), index + ": says tensor 'b' is in s1.safetensors, but it is not there");
  write_index(dir.path(), R"({"weight_map": {"a": "s3.safetensors"}})");
  EXPECT_EQ(open_error(dir.path()), index + ": lists shard s3.safetensors, which does not exist");
  write_index(dir.path(), R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
  EXPECT_EQ(open_error(dir.path()), index + ": tensor 'a' appears in s2.safetensors and s1.safetensors");
  write_index(dir.path(), R"({"weight_map": {"b": "s2.safetensors"}})");
  EXPECT_EQ(open_error(dir.path()), dir.path() + "/s2.safetensors: tensor 'a' is not in the index");
  write_index(dir.path(), R"({"weight_map": {"a": "../s1.safetensors"}})");
  EXPECT_EQ(open_error(dir.path()), index + ": shard name '../s1.safetensors' is not a plain file name");
  write_index(dir.path(), R"({"weight_map": {"a": 1}})");
  EXPECT_EQ(open_error(dir.path()), index + ": weight_map value for 'a' is not a file name");
  write_index(dir.path(), R"({"metadata": {}})");
  EXPECT_EQ(open_error(dir.path()), index + ": has no weight_map object");
  write_index(dir.path(), "{");
  EXPECT_EQ(open_error(dir.path()).rfind(index + ": not valid JSON", 0), 0u);
}

TEST(TensorStore, MissingModelFilesAreNamed) {
  vlm::test::TempDir dir;
  EXPECT_EQ(open_error(dir.path()), dir.path() + ": has no model.safetensors or model.safetensors.index.json");
  EXPECT_EQ(open_error(dir.path() + "/nothing"), dir.path() + "/nothing: no such file or folder");
}

TEST(TensorStore, SaveMakesContiguousCpuCopies) {
  vlm::test::TempDir dir;
  const std::string path = dir.path() + "/t.safetensors";
  const at::Tensor base = torch::arange(6, torch::kFloat).reshape({2, 3});
  const at::Tensor transposed = base.t();             // (3, 2), not contiguous
  const at::Tensor strided = torch::arange(10, torch::kInt).slice(0, 0, 10, 3);  // every third
  vlm::io::save_tensors(path, {{"t", transposed}, {"s", strided}});
  const auto store = TensorStore::open(path);
  EXPECT_TRUE(torch::equal(store.get("t"), transposed));
  EXPECT_TRUE(torch::equal(store.get("s"), torch::tensor({0, 3, 6, 9}, torch::kInt)));
  try {
    vlm::io::save_tensors(path, {{"x", at::Tensor()}});
    FAIL() << "no error";
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": tensor 'x' is undefined");
  }
  try {
    vlm::io::save_tensors(path, {{"c", torch::zeros({2}, torch::kComplexFloat)}});
    FAIL() << "no error";
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": tensor 'c' has a dtype safetensors cannot store");
  }
}

TEST(TensorStore, BoolBytesMustBeZeroOrOne) {
  vlm::test::TempDir dir;
  const std::string path = dir.path() + "/b.safetensors";
  const std::vector<uint8_t> bytes = {1, 0, 2};
  vlm::io::write_safetensors(path, {{"mask", vlm::io::DType::kBool, {3}, bytes}});
  const auto store = TensorStore::open(path);  // headers are fine
  try {
    store.get("mask");
    FAIL() << "no error";
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": tensor 'mask': BOOL element 2 holds byte 2, not 0 or 1");
  }
}

TEST(TensorStore, ReadsFilesFromAnIndependentWriter) {
  // Written by fuzz/seeds/make_safetensors_seeds.py (Python json + struct), one tensor per dtype.
  const std::string seeds = std::string(VLM_SOURCE_DIR) + "/fuzz/seeds/safetensors/";
  const auto store = TensorStore::open(seeds + "mixed.safetensors");
  EXPECT_TRUE(torch::equal(store.get("a"), torch::ones({3}, torch::kBFloat16)));
  EXPECT_TRUE(torch::equal(store.get("b"), torch::tensor({-5}, torch::kLong)));
  EXPECT_TRUE(torch::equal(store.get("c"), torch::tensor({true, false})));
  EXPECT_EQ(store.get("d").sizes(), (std::vector<int64_t>{0}));
  EXPECT_EQ(store.get("d").scalar_type(), torch::kByte);
  EXPECT_EQ(store.get("e").dim(), 0);
  EXPECT_EQ(store.get("e").item<float>(), 1.0f);
  EXPECT_EQ(store.get("e").scalar_type(), torch::kHalf);
  EXPECT_TRUE(torch::equal(store.get("f"), torch::tensor({-1, 1}, torch::kChar)));
  EXPECT_TRUE(torch::equal(store.get("g"), torch::full({1, 1}, 2, torch::kShort)));
  EXPECT_TRUE(torch::equal(store.get("h"), torch::tensor({3}, torch::kInt)));
  EXPECT_TRUE(torch::equal(store.get("i"), torch::tensor({0.5}, torch::kDouble)));
  const auto f32 = TensorStore::open(seeds + "f32.safetensors");
  EXPECT_TRUE(torch::equal(f32.get("w"), torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({2, 2})));
  EXPECT_EQ(f32.metadata().at("format"), "pt");
  EXPECT_TRUE(TensorStore::open(seeds + "empty.safetensors").names().empty());
}
