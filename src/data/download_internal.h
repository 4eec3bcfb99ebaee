// Internal to the downloader: the concurrent fetcher and the per-image processing.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "data/download.h"

namespace vlm::data {

struct FetchResult {
  std::vector<uint8_t> body;
  std::string kind;        // "" on success, else the failure kind
  std::string message;     // curl's or the HTTP status, for the .json metadata
  int attempts = 0;
  long http_status = 0;
};

// Fetches every URL with up to options.concurrency transfers at once; calls on_done(i, result)
// on the calling thread as each URL finishes (after its retries). Only http and https.
void fetch_all(const std::vector<std::string>& urls, const DownloadOptions& options,
               const std::function<void(size_t, FetchResult&&)>& on_done);

struct ProcessedImage {
  std::vector<uint8_t> jpeg;
  int width = 0, height = 0;
  int original_width = 0, original_height = 0;
  std::string kind;        // "" on success: "not_image", "image_corrupt", "image_truncated", ...
  std::string message;
};

// Magic-byte check, decode, resize per options.resize_mode, JPEG encode.
ProcessedImage process_image(std::span<const uint8_t> bytes, const std::string& name, const DownloadOptions& options);

// "jpeg", "png", "webp", "gif", or "" when the bytes start like no image format.
std::string sniff_image(std::span<const uint8_t> bytes);

}  // namespace vlm::data
