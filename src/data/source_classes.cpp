// An ImageNet-style class folder (torchvision's ImageFolder layout): one subfolder per class,
// named for it, images inside. Each image becomes a sample whose one caption is its class name,
// for zero-shot classification. Keys are "class/file", so samples sort by class.
#include <algorithm>
#include <filesystem>

#include "data/source_internal.h"

namespace fs = std::filesystem;

namespace vlm::data {

bool is_class_folder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(e.path()))
      if (f.is_regular_file() && is_image_name(f.path().string())) return true;
  }
  return false;
}

std::shared_ptr<Dataset> open_class_folder(const std::string& dir) {
  if (!fs::is_directory(dir)) throw FileError(dir, "not a folder (one subfolder of images per class expected)");
  auto ds = std::make_shared<Dataset>();
  ds->origin = dir;
  ds->format = "classes";
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory()) continue;
    const std::string label = e.path().filename().string();
    for (const auto& f : fs::directory_iterator(e.path())) {
      if (!f.is_regular_file() || !is_image_name(f.path().string())) continue;
      SampleRef s;
      s.key = label + "/" + f.path().filename().string();
      s.path = f.path().string();
      s.captions = {label};
      ds->samples.push_back(std::move(s));
    }
  }
  if (ds->samples.empty()) throw FileError(dir, "holds no images in class subfolders (.jpg, .jpeg, .png, .webp)");
  std::sort(ds->samples.begin(), ds->samples.end(), [](const SampleRef& a, const SampleRef& b) { return a.key < b.key; });
  return ds;
}

}  // namespace vlm::data
