// safetensors: bit-exact round trips of every dtype, the writer's exact header layout, and the
// reader's exact error for each kind of malformed file (hand-built bytes, checked one by one).
#include "io/safetensors.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/tensor_store.h"
#include "test_util.h"

using vlm::io::SafetensorsFile;

namespace {

// A file from a raw header string and data bytes, exactly as given.
std::vector<uint8_t> raw_file(const std::string& header, size_t data_bytes, int64_t declared_len = -1) {
  const uint64_t len = declared_len >= 0 ? static_cast<uint64_t>(declared_len) : header.size();
  std::string raw(8, '\0');
  for (int i = 0; i < 8; ++i) raw[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  raw += header;
  raw.append(data_bytes, '\0');
  return std::vector<uint8_t>(raw.begin(), raw.end());
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    SafetensorsFile::from_buffer(bytes, "bad.safetensors");
  } catch (const vlm::FileError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(Safetensors, RoundTripEveryDtypeBitExact) {
  vlm::test::TempDir dir;
  const std::string path = dir.path() + "/all.safetensors";
  torch::manual_seed(0);
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f64", torch::randn({3, 2}, torch::kDouble)},
      {"f32", torch::randn({4}, torch::kFloat)},
      {"f16", torch::randn({2, 3}).to(torch::kHalf)},
      {"bf16", torch::randn({5}).to(torch::kBFloat16)},
      {"i64", torch::randint(-1000000, 1000000, {3}, torch::kLong)},
      {"i32", torch::randint(-1000, 1000, {2, 2}, torch::kInt)},
      {"i16", torch::randint(-300, 300, {3}, torch::kShort)},
      {"i8", torch::randint(-100, 100, {7}, torch::kChar)},
      {"u8", torch::randint(0, 255, {1, 1, 3}, torch::kByte)},
      {"bool", torch::randint(0, 2, {6}, torch::kLong).to(torch::kBool)},
      {"scalar", torch::full({}, 3.5f)},
      {"empty", torch::zeros({0, 4})},
  };
  vlm::io::save_tensors(path, tensors, {{"format", "pt"}});
  const auto store = vlm::io::TensorStore::open(path);
  EXPECT_EQ(store.metadata().at("format"), "pt");
  ASSERT_EQ(store.names().size(), tensors.size());
  for (const auto& [name, expected] : tensors) {
    const at::Tensor got = store.get(name);
    EXPECT_EQ(got.scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), expected.sizes()) << name;
    EXPECT_TRUE(torch::equal(got, expected)) << name;
  }
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->tensors().front().name, "f64");  // file order kept
  EXPECT_EQ(file->at("bf16").shape, (std::vector<int64_t>{5}));
}

TEST(Safetensors, HeaderIsPaddedToEightBytes) {
  vlm::test::TempDir dir;
  const std::string path = dir.path() + "/p.safetensors";
  vlm::io::save_tensors(path, {{"abc", torch::ones({3}, torch::kByte)}});
  const std::string raw = vlm::io::read_file(path);
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | static_cast<uint8_t>(raw[i]);
  EXPECT_EQ(len % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + len + 3);
}

TEST(Safetensors, MalformedFilesEachGetTheirExactError) {
  const std::string ok_entry = R"("t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})";
  const std::string p = "bad.safetensors: ";
  EXPECT_EQ(parse_error({1, 2, 3}), p + "too short for a safetensors header length (3 bytes)");
  EXPECT_EQ(parse_error(raw_file("{}", 0, 1000)), p + "header length 1000 runs past the end of the file (10 bytes)");
  EXPECT_EQ(parse_error(raw_file("{}", 0, 200'000'000)), p + "header length 200000000 exceeds the 100 MB limit");
  EXPECT_EQ(parse_error(raw_file("{not json", 0)).rfind(p + "header is not valid JSON", 0), 0u);
  EXPECT_EQ(parse_error(raw_file("[1, 2]", 0)), p + "header is not a JSON object");
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"dtype": "F8", "shape": [2], "data_offsets": [0, 2]}})", 2)),
            p + "tensor 't': unsupported dtype 'F8'");
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8)),
            p + "tensor 't': shape [-2] is invalid");
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}})", 8)),
            p + "tensor 't': data_offsets [0, 16] run past the data section (8 bytes)");
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8)),
            p + "tensor 't': 8 bytes for shape [3] of F32, expected 12");
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8)),
            p + "tensor 't': data_offsets [8, 0] are reversed");
  EXPECT_EQ(parse_error(raw_file("{" + ok_entry + R"(, "u": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12)),
            p + "tensor 'u' overlaps the previous tensor's bytes");
  EXPECT_EQ(parse_error(raw_file("{" + ok_entry + R"(, "u": {"dtype": "U8", "shape": [2], "data_offsets": [10, 12]}})", 12)),
            p + "bytes [8, 10) of the data section belong to no tensor");
  EXPECT_EQ(parse_error(raw_file("{" + ok_entry + "}", 12)), p + "bytes [8, 12) at the end belong to no tensor");
  EXPECT_EQ(parse_error(raw_file("{" + ok_entry + ", " + ok_entry + "}", 8)), p + "tensor 't' appears twice in the header");
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"dtype": "F32", "dtype": "F16", "shape": [2], "data_offsets": [0, 8]}})", 8)),
            p + "entry 't' has the key 'dtype' twice");
  EXPECT_EQ(parse_error(raw_file(R"({"__metadata__": "x"})", 0)), p + "__metadata__ is not an object of strings");
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"dtype": "F32", "shape": [1e400], "data_offsets": [0, 8]}})", 8)).rfind(p + "header is not valid JSON", 0), 0u);
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", 8)),
            p + "tensor 't': shape overflows");
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})", 8)),
            p + "tensor 't': shape [2.0] is invalid");
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, -8]}})", 8)),
            p + "tensor 't': data_offsets are not non-negative integers");
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"shape": [2], "data_offsets": [0, 8]}})", 8)),
            p + "tensor 't': dtype missing or not a string");
  EXPECT_EQ(parse_error(raw_file(R"({"__metadata__": {"a": 1}})", 0)), p + "__metadata__ value for 'a' is not a string");
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "x": 1}})", 8)),
            p + "tensor 't': unknown field 'x'");
  EXPECT_EQ(parse_error(raw_file(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", 8)),
            p + "tensor 't': data_offsets must be a list of two integers");
  EXPECT_EQ(parse_error(raw_file(R"({"t": [1]})", 0)), p + "tensor 't': entry is not an object");
  EXPECT_EQ(parse_error(raw_file("{" + ok_entry + "}", 8)), "no error");
}

TEST(Safetensors, MissingFileAndMissingTensorNameThePath) {
  EXPECT_THROW(SafetensorsFile::open("/nonexistent.safetensors"), vlm::FileError);
  vlm::test::TempDir dir;
  vlm::io::save_tensors(dir.path() + "/m.safetensors", {{"a", torch::ones({1})}});
  const auto store = vlm::io::TensorStore::open(dir.path() + "/m.safetensors");
  try {
    store.get("b");
    FAIL();
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(std::string(e.what()), dir.path() + "/m.safetensors: has no tensor 'b'");
  }
  EXPECT_THROW(vlm::io::TensorStore::open(dir.path() + "/nothing"), vlm::FileError);
}

TEST(Safetensors, WriterHeaderIsTheReferenceLayout) {
  vlm::test::TempDir dir;
  const std::string path = dir.path() + "/h.safetensors";
  const std::vector<uint8_t> a = {1, 2, 3};
  const std::vector<uint8_t> b = {0, 0, 0x80, 0x3f};  // 1.0f
  vlm::io::write_safetensors(path,
                             {{"abc", vlm::io::DType::kU8, {3}, a}, {"b", vlm::io::DType::kF32, {1, 1}, b}},
                             {{"format", "pt"}});
  const std::string raw = vlm::io::read_file(path);
  const std::string json =
      R"({"__metadata__":{"format":"pt"},"abc":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},)"
      R"("b":{"dtype":"F32","shape":[1,1],"data_offsets":[3,7]}})";
  const size_t padded = (json.size() + 7) / 8 * 8;
  ASSERT_EQ(raw.size(), 8 + padded + 7);
  EXPECT_EQ(static_cast<uint8_t>(raw[0]), padded);
  EXPECT_EQ(raw.substr(8, padded), json + std::string(padded - json.size(), ' '));
  EXPECT_EQ(raw.substr(8 + padded), std::string("\x01\x02\x03\x00\x00\x80\x3f", 7));
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(file->tensors()[1].name, "b");
  EXPECT_EQ(file->bytes(file->at("b")).size(), 4u);
}

TEST(Safetensors, WriterRefusesInconsistentInput) {
  vlm::test::TempDir dir;
  const std::string path = dir.path() + "/w.safetensors";
  const std::vector<uint8_t> three = {1, 2, 3};
  try {
    vlm::io::write_safetensors(path, {{"x", vlm::io::DType::kF32, {1}, three}});
    FAIL() << "no error";
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": tensor 'x': 3 bytes given for 4 expected");
  }
  try {
    vlm::io::write_safetensors(path, {{"x", vlm::io::DType::kU8, {3}, three}, {"x", vlm::io::DType::kU8, {3}, three}});
    FAIL() << "no error";
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": duplicate tensor name 'x'");
  }
  EXPECT_FALSE(std::filesystem::exists(path));  // nothing half-written
}
