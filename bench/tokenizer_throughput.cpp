// Encode throughput of the tokenizers on one thread, in MB/s of UTF-8 input: Qwen3's byte-level
// BPE (tests/fixtures/tokenizers/qwen3) and BERT-uncased WordPiece, on ~10 MB of deterministic
// synthetic English prose encoded line by line without special tokens. Prints one JSON line.
// `--text-out FILE` also writes the text, for tools/tokenizers/bench_hf.mjs to time HF on it.
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/random.h"
#include "tokenizers/tokenizer.h"

namespace {

// Sentences of 5-20 words from a fixed list (common English and caption words), with commas,
// ./?/! endings, occasional "(N)" and contractions; lines of 200-600 bytes; splitmix64 seeded 7.
std::vector<std::string> prose(size_t bytes) {
  static const char* kWords[] = {
      "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
      "he", "I", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "they", "you", "were",
      "her", "she", "there", "been", "one", "all", "we", "their", "has", "would", "when", "if", "so", "no", "will",
      "more", "can", "who", "image", "photo", "picture", "dog", "cat", "man", "woman", "child", "children",
      "street", "city", "building", "river", "mountain", "tree", "sky", "water", "standing", "sitting", "walking",
      "running", "playing", "holding", "looking", "wearing", "riding", "eating", "red", "blue", "green", "white",
      "black", "large", "small", "old", "young", "beautiful", "bright", "dark", "wooden", "metal", "stone",
      "glass", "through", "across", "near", "behind", "front", "morning", "evening", "night", "summer", "winter",
      "people", "group", "crowd", "market", "kitchen", "table", "window", "door", "garden", "field", "road",
      "however", "although", "because", "therefore", "meanwhile", "especially", "carefully", "quickly", "slowly",
      "together", "another", "every", "government", "history", "system", "research", "information",
      "development", "community", "experience", "important", "different"};
  constexpr size_t kCount = sizeof(kWords) / sizeof(kWords[0]);
  uint64_t state = 7;
  auto next = [&]() { return vlm::mix64(state += vlm::kGoldenGamma); };
  auto uniform = [&](uint64_t n) { return next() % n; };
  std::vector<std::string> lines;
  size_t total = 0;
  while (total < bytes) {
    std::string line;
    const size_t target = 200 + uniform(400);
    while (line.size() < target) {
      const size_t n = 5 + uniform(15);
      std::string sentence;
      for (size_t k = 0; k < n; ++k) {
        std::string w = kWords[uniform(kCount)];
        if (k == 0 && w[0] >= 'a' && w[0] <= 'z') w[0] = static_cast<char>(w[0] - 32);
        if (k > 0) sentence += ' ';
        sentence += w;
        if (k + 1 < n && uniform(100) < 8) sentence += ',';
        if (k + 1 < n && uniform(100) < 3) sentence += w == "is" ? "n't" : "'s";
      }
      const uint64_t r = uniform(10);
      sentence += r < 8 ? "." : r < 9 ? "?" : "!";
      if (uniform(100) < 5) sentence += " (" + std::to_string(uniform(2000)) + ")";
      if (!line.empty()) line += ' ';
      line += sentence;
    }
    total += line.size() + 1;
    lines.push_back(std::move(line));
  }
  return lines;
}

struct Result {
  double mb_per_s;       // by this thread's CPU time (robust on a shared machine)
  double wall_mb_per_s;  // by wall-clock time
  size_t tokens;
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

Result time_encode(const vlm::tokenizers::Tokenizer& tok, const std::vector<std::string>& lines, size_t bytes) {
  for (size_t i = 0; i < lines.size() && i < 200; ++i) tok.encode(lines[i], false);  // warm up
  size_t tokens = 0;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  for (const std::string& line : lines) tokens += tok.encode(line, false).ids.size();
  const double cpu = thread_cpu_seconds() - cpu_start;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double mb = static_cast<double>(bytes) / 1e6;
  return {mb / cpu, mb / wall, tokens};
}

}  // namespace

int main(int argc, char** argv) {
  std::string text_out;
  size_t megabytes = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--text-out") text_out = argv[i + 1];
    if (flag == "--mb") megabytes = std::stoul(argv[i + 1]);
  }
  const std::string fixtures = std::string(VLM_SOURCE_DIR) + "/tests/fixtures/tokenizers";
  const auto lines = prose(megabytes * 1000 * 1000);
  size_t bytes = 0;
  for (const auto& l : lines) bytes += l.size();
  if (!text_out.empty()) {
    std::ofstream out(text_out, std::ios::binary);
    for (const auto& l : lines) out << l << '\n';
  }
  const auto dir = std::filesystem::temp_directory_path() / "vlm-bench-qwen3";
  std::filesystem::create_directories(dir);
  const std::string unpack = "gzip -dc '" + fixtures + "/qwen3/tokenizer.json.gz' > '" + (dir / "tokenizer.json").string() + "'";
  if (std::system(unpack.c_str()) != 0) {
    std::cerr << "cannot unpack " << fixtures << "/qwen3/tokenizer.json.gz\n";
    return 1;
  }
  const auto qwen3 = vlm::tokenizers::Tokenizer::from_path((dir / "tokenizer.json").string());
  const auto bert = vlm::tokenizers::Tokenizer::from_path(fixtures + "/bert-uncased");
  const Result q = time_encode(qwen3, lines, bytes);
  const Result b = time_encode(bert, lines, bytes);
  std::printf(
      "{\"bench\":\"tokenizer_throughput\",\"text\":\"synthetic English prose\",\"bytes\":%zu,\"lines\":%zu,"
      "\"threads\":1,\"qwen3_mb_per_s\":%.2f,\"qwen3_wall_mb_per_s\":%.2f,\"qwen3_tokens\":%zu,"
      "\"bert_mb_per_s\":%.2f,\"bert_wall_mb_per_s\":%.2f,\"bert_tokens\":%zu}\n",
      bytes, lines.size(), q.mb_per_s, q.wall_mb_per_s, q.tokens, b.mb_per_s, b.wall_mb_per_s, b.tokens);
  return 0;
}
