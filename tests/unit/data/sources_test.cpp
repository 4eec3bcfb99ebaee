// Dataset sources: every format read from small datasets written here, several captions per
// image, renamed columns, format detection and malformed-table errors naming file and line.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "data/sources.h"
#include "data/table.h"
#include "data/tar.h"
#include "data_test_util.h"
#include "test_util.h"

namespace vlm::data {
namespace {

using test::TempDir;
using test::write_bytes;
using test::write_text;
namespace fs = std::filesystem;

std::shared_ptr<Dataset> open(const std::string& path, const std::string& format = "auto") {
  DataSpec spec;
  spec.path = path;
  spec.format = format;
  return open_dataset(spec);
}

const SampleRef& by_key(const Dataset& ds, const std::string& key) {
  for (const auto& s : ds.samples)
    if (s.key == key) return s;
  throw std::runtime_error("no sample " + key);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(Sources, CsvWithRelativePathsQuotingAndSeveralCaptions) {
  TempDir dir;
  write_bytes(dir.path() + "/img/a.png", test::tagged_png(1));
  write_bytes(dir.path() + "/img/b.png", test::tagged_png(2));
  write_text(dir.path() + "/t.csv",
             "image,caption\n"
             "img/a.png,\"a cat, sitting\"\n"
             "img/b.png,\"a \"\"quoted\"\" dog\nover two lines\"\r\n"
             "img/a.png,another caption of a\n");
  const auto ds = open(dir.path() + "/t.csv");
  EXPECT_EQ(ds->format, "table");
  ASSERT_EQ(ds->size(), 2u);
  const auto& a = by_key(*ds, "img/a.png");
  EXPECT_EQ(a.captions, (std::vector<std::string>{"a cat, sitting", "another caption of a"}));
  EXPECT_EQ(a.path, (fs::path(dir.path()) / "img/a.png").string());
  EXPECT_EQ(by_key(*ds, "img/b.png").captions[0], "a \"quoted\" dog\nover two lines");
  EXPECT_EQ(read_bytes(a), test::tagged_png(1));
}

TEST(Sources, TsvWithRenamedColumnsAndUrls) {
  TempDir dir;
  write_text(dir.path() + "/t.tsv", "id\ttext\tpic\n1\tfirst\thttp://example.com/1.jpg\n2\tsecond\tpics/2.png\n");
  DataSpec spec;
  spec.path = dir.path() + "/t.tsv";
  spec.image_column = "pic";
  spec.caption_column = "text";
  const auto ds = open_dataset(spec);
  ASSERT_EQ(ds->size(), 2u);
  const auto& url = by_key(*ds, "http://example.com/1.jpg");
  EXPECT_EQ(url.url, "http://example.com/1.jpg");
  EXPECT_EQ(url.captions[0], "first");
  try {
    read_bytes(url);
    FAIL();
  } catch (const SampleError& e) {
    EXPECT_EQ(e.reason(), "not_downloaded");
  }
  try {
    read_bytes(by_key(*ds, "pics/2.png"));
    FAIL();
  } catch (const SampleError& e) {
    EXPECT_EQ(e.reason(), "missing");
  }
  // Without the renames the error names the file, the line and the columns found.
  spec.image_column = "image";
  const std::string err = error_of([&] { open_dataset(spec); });
  EXPECT_NE(err.find("t.tsv: line 1: no image column 'image' (columns: id, text, pic)"), std::string::npos) << err;
}

TEST(Sources, ConceptualCaptionsTsvIsDetected) {
  TempDir dir;
  write_text(dir.path() + "/Train_GCC-training.tsv",
             "a very typical bus station\thttp://lh6.example.com/a.jpg\n"
             "sierra looked stunning\thttps://i.example.com/b.jpg\n");
  EXPECT_EQ(detect_format(dir.path() + "/Train_GCC-training.tsv"), "cc_tsv");
  const auto ds = open(dir.path() + "/Train_GCC-training.tsv");
  EXPECT_EQ(ds->format, "cc_tsv");
  ASSERT_EQ(ds->size(), 2u);
  EXPECT_EQ(by_key(*ds, "http://lh6.example.com/a.jpg").captions[0], "a very typical bus station");
}

TEST(Sources, JsonlWithCaptionListsAndQa) {
  TempDir dir;
  write_text(dir.path() + "/d.jsonl",
             "{\"url\": \"x.png\", \"captions\": [\"one\", \"two\"]}\n"
             "\n"
             "{\"url\": \"y.png\", \"caption\": \"three\", \"qa\": [{\"question\": \"q?\", \"answer\": \"a\"}], "
             "\"split\": \"heldout\"}\n");
  const auto ds = open(dir.path() + "/d.jsonl");
  ASSERT_EQ(ds->size(), 2u);
  EXPECT_EQ(by_key(*ds, "x.png").captions, (std::vector<std::string>{"one", "two"}));
  const auto& y = by_key(*ds, "y.png");
  ASSERT_EQ(y.qa.size(), 1u);
  EXPECT_EQ(y.qa[0].answer, "a");
  EXPECT_EQ(y.split, "heldout");
}

TEST(Sources, MalformedTablesNameFileAndLine) {
  TempDir dir;
  write_text(dir.path() + "/bad.csv", "image,caption\na.png,ok\nb.png,\"never closed\n");
  EXPECT_NE(error_of([&] { open(dir.path() + "/bad.csv"); }).find("bad.csv: line 3: unterminated quoted field"),
            std::string::npos);
  // A bad row is skipped, counted and named; the rest of the table is read. The strict
  // read_table still throws it.
  auto expect_skipped = [&](const std::string& name, const std::string& message) {
    const auto ds = open(dir.path() + "/" + name);
    EXPECT_EQ(ds->size(), 1u) << name;
    EXPECT_EQ(ds->left_out.at("bad_row"), 1) << name;
    std::string warnings;
    for (const auto& w : ds->warnings) warnings += w + "\n";
    EXPECT_NE(warnings.find(dir.path() + "/" + name + ": " + message), std::string::npos) << warnings;
    EXPECT_NE(error_of([&] { read_table(dir.path() + "/" + name, {}); }).find(name + ": " + message), std::string::npos);
  };
  write_text(dir.path() + "/fields.csv", "image,caption\na.png,ok\nb.png,x,extra\n");
  expect_skipped("fields.csv", "line 3: expected 2 fields, found 3");
  write_text(dir.path() + "/bad.jsonl", "{\"image\": \"a.png\", \"caption\": \"x\"}\n{\"image\": \n");
  expect_skipped("bad.jsonl", "line 2: not valid JSON");
  // fuzz_table's find: a number too large for a double was nlohmann's out_of_range, uncaught.
  write_text(dir.path() + "/big.jsonl", "{\"image\": \"a.png\", \"caption\": \"x\"}\n{\"image\": 5E55555}\n");
  expect_skipped("big.jsonl", "line 2: not valid JSON");
  write_text(dir.path() + "/cc.tsv", "cap\thttp://a/b.jpg\nbroken line without tab\n");
  expect_skipped("cc.tsv", "line 2: expected 2 tab-separated");
  write_text(dir.path() + "/latin1.csv", "image,caption\na.png,ok\nb.png,caf\xE9\n");
  expect_skipped("latin1.csv", "line 3: the caption is not valid UTF-8");
  write_text(dir.path() + "/empty.csv", "image,caption\n,nothing\nb.png,ok\n");
  expect_skipped("empty.csv", "line 2: empty image field 'image'");
  EXPECT_THROW(open(dir.path() + "/absent.csv"), FileError);
  EXPECT_THROW(open(dir.path() + "/bad.csv", "nonsense"), ConfigError);
}

TEST(Sources, FolderWithCaptionsFile) {
  TempDir dir;
  write_bytes(dir.path() + "/one.png", test::tagged_png(1));
  write_bytes(dir.path() + "/two.png", test::tagged_png(2));
  write_text(dir.path() + "/captions.txt", "one.png\tthe first\ntwo.png\tthe second\none.png\tthe first again\n");
  EXPECT_EQ(detect_format(dir.path()), "folder");
  const auto ds = open(dir.path());
  ASSERT_EQ(ds->size(), 2u);
  EXPECT_EQ(by_key(*ds, "one.png").captions.size(), 2u);
  EXPECT_EQ(read_bytes(by_key(*ds, "two.png")), test::tagged_png(2));
}

TEST(Sources, SyntheticDemoFolder) {
  TempDir dir;
  const std::string path = dir.path() + "/shapes";
  write_synthetic_dataset(path, SyntheticConfig{.seed = 3, .image_size = 32}, 4, 2);
  const auto ds = open(path);
  EXPECT_EQ(ds->format, "folder");
  ASSERT_EQ(ds->size(), 6u);
  EXPECT_FALSE(ds->samples[0].qa.empty());
  EXPECT_FALSE(ds->samples[0].captions.empty());
  EXPECT_EQ(ds->samples[5].split, "heldout");
}

TEST(Sources, Img2datasetFilesLayout) {
  TempDir dir;
  write_bytes(dir.path() + "/00000/000000000.jpg", encode_jpeg(test::tagged_image(1)));
  write_text(dir.path() + "/00000/000000000.txt", "caption zero\n");
  write_text(dir.path() + "/00000/000000000.json", "{\"caption\": \"ignored\", \"status\": \"success\"}");
  write_bytes(dir.path() + "/00000/000000001.jpg", encode_jpeg(test::tagged_image(2)));
  write_text(dir.path() + "/00000/000000001.json", "{\"caption\": \"from json\"}");
  write_bytes(dir.path() + "/00001/000010000.jpg", encode_jpeg(test::tagged_image(3)));
  write_text(dir.path() + "/00001/000010000.txt", "caption ten thousand");
  write_bytes(dir.path() + "/00001/000010001.jpg", encode_jpeg(test::tagged_image(4)));  // no caption
  write_text(dir.path() + "/00000.parquet", "not read");
  EXPECT_EQ(detect_format(dir.path()), "files");
  const auto ds = open(dir.path());
  ASSERT_EQ(ds->size(), 3u);
  EXPECT_EQ(ds->samples[0].key, "000000000");
  EXPECT_EQ(ds->samples[0].captions[0], "caption zero");
  EXPECT_EQ(ds->samples[1].captions[0], "from json");
  EXPECT_EQ(ds->samples[2].captions[0], "caption ten thousand");
  EXPECT_EQ(ds->warnings.size(), 1u);
}

TEST(Sources, WebdatasetShardsIndexedForRandomAccess) {
  TempDir dir;
  std::vector<std::vector<uint8_t>> images;
  for (int shard = 0; shard < 2; ++shard) {
    TarWriter tar(str(dir.path(), "/0000", shard, ".tar"));
    for (int i = 0; i < 3; ++i) {
      const int tag = shard * 10 + i;
      const std::string key = str("0000", shard, "000", i);
      images.push_back(encode_jpeg(test::tagged_image(tag)));
      tar.add(key + ".jpg", images.back());
      if (i != 1) tar.add(key + ".txt", str("caption ", tag));
      tar.add(key + ".json", str("{\"caption\": \"json ", tag, "\", \"key\": \"", key, "\"}"));
    }
    // A long member name (pax header) with a multi-dot extension is grouped by its key too.
    const std::string long_key = "deep/" + std::string(120, 'k');
    tar.add(long_key + ".jpg", images[0]);
    tar.add(long_key + ".cls.txt", std::string("not a caption"));
    tar.add(long_key + ".txt", str("long ", shard));
    tar.close();
  }
  EXPECT_EQ(detect_format(dir.path()), "webdataset");
  const auto ds = open(dir.path());
  ASSERT_EQ(ds->size(), 8u) << (ds->warnings.empty() ? "" : ds->warnings[0]);
  EXPECT_EQ(by_key(*ds, "000010002").captions[0], "caption 12");
  EXPECT_EQ(by_key(*ds, "000000001").captions[0], "json 1");
  EXPECT_EQ(read_bytes(by_key(*ds, "000010002")), images[5]);
  EXPECT_EQ(read_bytes(by_key(*ds, "000000000")), images[0]);
  // The same key in two shards stays two samples.
  EXPECT_EQ(by_key(*ds, "deep/" + std::string(120, 'k')).captions[0], "long 0");
  EXPECT_EQ(by_key(*ds, "00001/deep/" + std::string(120, 'k')).captions[0], "long 1");
  // A single shard file works too.
  EXPECT_EQ(open(dir.path() + "/00000.tar")->size(), 4u);
}

TEST(Sources, TruncatedShardKeepsItsCompleteMembers) {
  TempDir dir;
  const std::string path = dir.path() + "/00000.tar";
  {
    TarWriter tar(path);
    for (int i = 0; i < 4; ++i) {
      tar.add(str("k", i, ".png"), test::tagged_png(i, 64, 64));
      tar.add(str("k", i, ".txt"), str("c", i));
    }
    tar.close();
  }
  const TarIndex whole = index_tar(path);
  ASSERT_EQ(whole.members.size(), 8u);
  EXPECT_TRUE(whole.problem.empty()) << whole.problem;
  fs::resize_file(path, static_cast<uintmax_t>(whole.members[6].offset + 100));  // cuts into the last image
  const auto ds = open(path);
  EXPECT_EQ(ds->size(), 3u);
  ASSERT_EQ(ds->warnings.size(), 1u);
  EXPECT_NE(ds->warnings[0].find("truncated"), std::string::npos) << ds->warnings[0];
  const TarIndex index = index_tar(path);
  EXPECT_EQ(index.members.size(), 6u);
}

TEST(Sources, UnknownFolderSaysWhatWasLookedFor) {
  TempDir dir;
  write_text(dir.path() + "/readme.md", "hello");
  const std::string err = error_of([&] { open(dir.path()); });
  EXPECT_NE(err.find("cannot tell the dataset format"), std::string::npos) << err;
}

TEST(Sources, MaxSamplesKeepsTheFirstKeys) {
  TempDir dir;
  write_text(dir.path() + "/t.csv", "image,caption\nc.png,3\na.png,1\nb.png,2\n");
  DataSpec spec;
  spec.path = dir.path() + "/t.csv";
  spec.max_samples = 2;
  const auto ds = open_dataset(spec);
  ASSERT_EQ(ds->size(), 2u);
  EXPECT_EQ(ds->samples[0].key, "a.png");
  EXPECT_EQ(ds->samples[1].key, "b.png");
}

}  // namespace
}  // namespace vlm::data
