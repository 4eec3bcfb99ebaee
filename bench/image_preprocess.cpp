// Images per second on one thread: read + decode + resize to 224x224 (bilinear) + rescale +
// normalize, for ~200 deterministic 500x375 JPEGs at quality 90 (Conceptual Captions' typical
// size: synthetic scenes with photo-like gradients and grain). Ours in exact mode (bit-identical
// to PIL) and fast mode (fast IDCT, reduced-scale decode when the image is >= 2x the target),
// then PIL doing what ViTImageProcessor does (bench/pil_preprocess.py with /usr/bin/python3) on
// the same files in the same run. Rates are per CPU-second of the working thread (per-core
// throughput, robust on a shared machine) and per wall-clock second. Prints one JSON line.
//   bench_image_preprocess [--images N] [--repeats R] [--width 500 --height 375] [--python PATH]
//   bench_image_preprocess --dir /usr/share/backgrounds/mate/nature --repeats 10   (real photographs:
//                          every *.jpg in DIR, e.g. Debian's mate-backgrounds, 1280x1024 to 2560x1920)
// (--width 1000 --height 750 shows the reduced-scale decode of fast mode.)
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/image_internal.h"
#include "data/preprocess.h"
#include "photos.h"

namespace {

using namespace vlm::data;
namespace fs = std::filesystem;

struct Rate {
  double per_cpu_s = 0;   // images per CPU-second of this thread: per-core throughput
  double per_wall_s = 0;  // images per wall-clock second (lower when the machine is shared)
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Rate run_ours(const std::vector<std::string>& files, int repeats, const PreprocessConfig& config, double* checksum) {
  std::vector<float> out(3 * 224 * 224);
  for (size_t i = 0; i < std::min<size_t>(files.size(), 20); ++i) {  // warm-up
    preprocess_bytes_into(read_binary_file(files[i]), files[i], config, out.data());
  }
  const double cpu0 = thread_cpu_seconds();
  const auto wall0 = std::chrono::steady_clock::now();
  for (int r = 0; r < repeats; ++r) {
    for (const std::string& f : files) {
      preprocess_bytes_into(read_binary_file(f), f, config, out.data());
      *checksum += out[0];
    }
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const double n = static_cast<double>(files.size()) * repeats;
  return {n / (thread_cpu_seconds() - cpu0), n / wall};
}

double json_number(const std::string& line, const std::string& key) {
  const size_t at = line.find("\"" + key + "\": ");
  return at == std::string::npos ? 0.0 : std::atof(line.c_str() + at + key.size() + 4);
}

}  // namespace

int main(int argc, char** argv) {
  int n_images = 200, repeats = 2, width = 500, height = 375;
  std::string python = "/usr/bin/python3", photo_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--images") n_images = std::atoi(argv[i + 1]);
    else if (flag == "--repeats") repeats = std::atoi(argv[i + 1]);
    else if (flag == "--python") python = argv[i + 1];
    else if (flag == "--width") width = std::atoi(argv[i + 1]);
    else if (flag == "--height") height = std::atoi(argv[i + 1]);
    else if (flag == "--dir") photo_dir = argv[i + 1];
  }
  const fs::path dir = !photo_dir.empty() ? fs::path(photo_dir)
                                           : fs::temp_directory_path() / ("vlm-bench-jpegs-" + std::to_string(width) + "x" +
                                                                          std::to_string(height) + "-" + std::to_string(n_images));
  std::vector<std::string> files;
  size_t bytes = 0;
  if (!photo_dir.empty()) {  // real photographs, as they are (the PIL side reads the same folder)
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".jpg") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      std::fprintf(stderr, "bench_image_preprocess: no .jpg in %s (apt-get install mate-backgrounds)\n", photo_dir.c_str());
      return 1;
    }
    for (const auto& f : files) bytes += fs::file_size(f);
    n_images = static_cast<int>(files.size());
    width = height = 0;  // various
  } else {
    fs::create_directories(dir);
  }
  for (int i = 0; photo_dir.empty() && i < n_images; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "%05d.jpg", i);
    const fs::path path = dir / name;
    if (!fs::exists(path)) write_jpeg(path.string(), vlm::bench::make_photo(i, width, height).image, 90);
    bytes += fs::file_size(path);
    files.push_back(path.string());
  }
  PreprocessConfig exact;  // ViTImageProcessor defaults: 224x224 bilinear, 1/255, mean = std = 0.5
  PreprocessConfig fast = exact;
  fast.fast_decode = true;
  double checksum = 0;
  const Rate exact_rate = run_ours(files, repeats, exact, &checksum);
  const Rate fast_rate = run_ours(files, repeats, fast, &checksum);

  const std::string script = std::string(VLM_SOURCE_DIR) + "/bench/pil_preprocess.py";
  const std::string cmd = python + " " + script + " " + dir.string() + " " + std::to_string(repeats) + " 2>&1";
  std::string pil_line;
  if (FILE* pipe = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof(buf), pipe) != nullptr) pil_line += buf;
    ::pclose(pipe);
  }
  const double pil_cpu = json_number(pil_line, "pil_images_per_cpu_s");
  const double pil_wall = json_number(pil_line, "pil_images_per_wall_s");
  std::printf(
      "{\"bench\": \"image_preprocess\", \"images\": %d, \"repeats\": %d, \"size\": \"%dx%d\", "
      "\"mean_jpeg_kb\": %.1f, \"target\": \"224x224 bilinear + normalize\", \"threads\": 1, "
      "\"ours_exact_images_per_cpu_s\": %.1f, \"ours_fast_images_per_cpu_s\": %.1f, "
      "\"pil_images_per_cpu_s\": %.1f, \"ratio_exact_vs_pil\": %.2f, \"ratio_fast_vs_pil\": %.2f, "
      "\"ours_exact_images_per_wall_s\": %.1f, \"ours_fast_images_per_wall_s\": %.1f, "
      "\"pil_images_per_wall_s\": %.1f, \"pil_status\": \"%s\"}\n",
      n_images, repeats, width, height, static_cast<double>(bytes) / n_images / 1024.0, exact_rate.per_cpu_s, fast_rate.per_cpu_s,
      pil_cpu, pil_cpu > 0 ? exact_rate.per_cpu_s / pil_cpu : 0.0, pil_cpu > 0 ? fast_rate.per_cpu_s / pil_cpu : 0.0,
      exact_rate.per_wall_s, fast_rate.per_wall_s, pil_wall,
      pil_cpu > 0 ? "ok" : "python3-pil missing or failed (apt-get install python3-pil)");
  return checksum == checksum ? 0 : 1;  // keeps the work observable
}
