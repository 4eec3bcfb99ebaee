// img2dataset's two output layouts: `files` (numbered folders 00000/ holding KEY.jpg, KEY.txt
// caption, KEY.json metadata) and `webdataset` (NNNNN.tar shards whose members KEY.jpg / KEY.txt /
// KEY.json are grouped by key, the basename up to its first dot, as webdataset does). Shards are
// indexed once (data/tar.h) so a sample is read by seeking to its member, never by rescanning.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "data/source_internal.h"
#include "data/tar.h"

namespace vlm::data {
namespace fs = std::filesystem;

namespace {

std::string trim_caption(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string read_small(const std::string& path, int64_t offset, int64_t size) {
  std::ifstream in(path, std::ios::binary);
  std::string s(static_cast<size_t>(std::max<int64_t>(size, 0)), '\0');
  in.seekg(offset);
  in.read(s.data(), size);
  if (in.gcount() != size) throw FileError(path, str("cannot read ", size, " bytes at offset ", offset));
  return s;
}

// The "caption" of an img2dataset .json metadata record, or "" when it has none or is malformed.
std::string json_caption(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("caption") && j["caption"].is_string()) return j["caption"].get<std::string>();
  return {};
}

std::string lower_ext(const std::string& ext) {
  std::string e = ext;
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e;
}

void finish(Dataset& ds, std::map<std::string, SampleRef>& by_key, int64_t without_caption) {
  std::vector<std::string> missing;  // keys with a caption or metadata but no image
  for (auto& [key, s] : by_key) {
    if (s.path.empty()) {
      if (!s.captions.empty()) missing.push_back(key);  // a caption (.txt) whose image is gone
      continue;
    }
    if (s.captions.empty()) {
      ++without_caption;
      continue;
    }
    ds.samples.push_back(std::move(s));
  }
  if (without_caption > 0)
    ds.warnings.push_back(str(without_caption, " image(s) without a caption (.txt or .json \"caption\") left out"));
  if (!missing.empty()) {
    // A KEY.txt without its image: a file went missing after the download (a lone KEY.json may
    // be a failed download's record, so it is not counted).
    ds.left_out["missing_image"] = static_cast<int64_t>(missing.size());
    std::string names;
    for (size_t i = 0; i < std::min<size_t>(5, missing.size()); ++i) names += (i ? ", " : "") + missing[i];
    ds.warnings.push_back(str(missing.size(), " sample(s) without their image file left out (", names,
                              missing.size() > 5 ? ", ..." : "", ")"));
  }
}

}  // namespace

std::shared_ptr<Dataset> open_img2dataset_files(const std::string& dir) {
  if (!fs::is_directory(dir)) throw FileError(dir, "not a folder (img2dataset `files` layout expected)");
  auto ds = std::make_shared<Dataset>();
  ds->origin = dir;
  ds->format = "files";
  std::vector<fs::path> folders;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) folders.push_back(e.path());
  std::sort(folders.begin(), folders.end());
  std::map<std::string, SampleRef> by_key;
  std::map<std::string, std::string> json_of;  // key -> .json path, read only when no .txt
  for (const auto& folder : folders) {
    for (const auto& f : fs::directory_iterator(folder)) {
      if (!f.is_regular_file()) continue;
      const fs::path& p = f.path();
      const std::string key = p.stem().string();
      const std::string ext = lower_ext(p.extension().string());
      SampleRef& s = by_key[key];
      s.key = key;
      if (is_image_name(p.string())) {
        s.path = p.string();
      } else if (ext == ".txt") {
        std::ifstream in(p, std::ios::binary);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        s.captions.insert(s.captions.begin(), trim_caption(text));
      } else if (ext == ".json") {
        json_of[key] = p.string();
      }
    }
  }
  for (auto& [key, s] : by_key) {
    if (!s.captions.empty() || s.path.empty()) continue;
    const auto it = json_of.find(key);
    if (it == json_of.end()) continue;
    std::ifstream in(it->second, std::ios::binary);
    const std::string caption =
        json_caption(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
    if (!caption.empty()) s.captions.push_back(caption);
  }
  finish(*ds, by_key, 0);
  return ds;
}

std::shared_ptr<Dataset> open_webdataset(const std::string& path) {
  std::vector<fs::path> shards;
  if (fs::is_regular_file(path)) {
    shards.push_back(path);
  } else if (fs::is_directory(path)) {
    for (const auto& e : fs::directory_iterator(path))
      if (e.is_regular_file() && e.path().extension() == ".tar") shards.push_back(e.path());
    std::sort(shards.begin(), shards.end());
    if (shards.empty()) throw FileError(path, "no .tar shards in the folder");
  } else {
    throw FileError(path, "no such file or folder");
  }
  auto ds = std::make_shared<Dataset>();
  ds->origin = path;
  ds->format = "webdataset";
  std::map<std::string, SampleRef> by_key;
  for (const auto& shard : shards) {
    const TarIndex index = index_tar(shard.string());
    if (!index.problem.empty())
      ds->warnings.push_back(str(shard.string(), ": ", index.problem, "; ", index.members.size(), " members kept"));
    // webdataset's grouping: key = path up to the first dot of the basename, rest = extension.
    std::map<std::string, std::vector<const TarMember*>> groups;
    for (const auto& m : index.members) {
      const size_t slash = m.name.rfind('/');
      const size_t dot = m.name.find('.', slash == std::string::npos ? 0 : slash + 1);
      if (dot == std::string::npos) continue;
      groups[m.name.substr(0, dot)].push_back(&m);
    }
    for (const auto& [member_key, members] : groups) {
      std::string key = member_key;
      if (by_key.count(key) != 0) key = shard.stem().string() + "/" + member_key;  // same key in two shards
      SampleRef s;
      s.key = key;
      std::string json_text;
      for (const TarMember* m : members) {
        const std::string ext = lower_ext(m->name.substr(m->name.find('.', m->name.rfind('/') + 1)));
        if (s.member.empty() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp")) {
          s.path = shard.string();
          s.member = m->name;
          s.offset = m->offset;
          s.size = m->size;
        } else if (ext == ".txt" && m->size < (1 << 20)) {
          s.captions.insert(s.captions.begin(), trim_caption(read_small(shard.string(), m->offset, m->size)));
        } else if (ext == ".json" && m->size < (1 << 20)) {
          json_text = read_small(shard.string(), m->offset, m->size);
        }
      }
      if (s.captions.empty() && !json_text.empty()) {
        const std::string caption = json_caption(json_text);
        if (!caption.empty()) s.captions.push_back(caption);
      }
      by_key[key] = std::move(s);
    }
  }
  finish(*ds, by_key, 0);
  return ds;
}

}  // namespace vlm::data
