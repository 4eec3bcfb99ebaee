// Internal to the dataset sources: the img2dataset layout readers and shared helpers.
#pragma once

#include <memory>
#include <string>

#include "data/sources.h"

namespace vlm::data {

bool is_image_name(const std::string& name);  // .jpg .jpeg .png .webp (any case)
std::shared_ptr<Dataset> open_img2dataset_files(const std::string& dir);
std::shared_ptr<Dataset> open_webdataset(const std::string& path);  // one .tar or a folder of them
bool is_class_folder(const std::string& dir);  // subfolders (not numbered) holding images
std::shared_ptr<Dataset> open_class_folder(const std::string& dir);  // ImageNet-style: caption = class

}  // namespace vlm::data
