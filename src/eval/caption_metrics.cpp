// BLEU, ROUGE-L and CIDEr-D exactly as pycocoevalcap's bleu/bleu_scorer.py (option "closest"),
// rouge/rouge.py and cider/cider_scorer.py compute them, down to their quirks: BLEU's 1e-9/1e-15
// smoothing, ROUGE-L's separate max of precision and recall over references, CIDEr-D's length
// penalty on bigram counts. No C++ library reproduces these numbers, so they are re-derived here.
#include "eval/caption_metrics.h"

#include <array>
#include <cmath>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "eval/ptb_tokenizer.h"
#include "io/jsonl.h"

namespace vlm::eval {
namespace {

constexpr int kMaxN = 4;
using Tokens = std::vector<std::string>;
// N-gram counts by order: counts[k] maps "w1 w2 .. w(k+1)" to its count.
using NgramCounts = std::array<std::unordered_map<std::string, int>, kMaxN>;

// Python's str.split(): whitespace-separated, no empty tokens.
Tokens split_ws(const std::string& s) {
  Tokens out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) != 0) ++i;
    size_t j = i;
    while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j])) == 0) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

NgramCounts precook(const Tokens& words) {
  NgramCounts counts;
  for (int k = 0; k < kMaxN; ++k) {
    for (size_t i = 0; i + k < words.size(); ++i) {
      std::string gram = words[i];
      for (int m = 1; m <= k; ++m) gram += " " + words[i + m];
      ++counts[k][gram];
    }
  }
  return counts;
}

// One image: its tokenized hypothesis and references.
struct Item {
  Tokens hypothesis;
  std::vector<Tokens> references;
};

std::array<double, kMaxN> bleu(const std::vector<Item>& items) {
  constexpr double kSmall = 1e-9, kTiny = 1e-15;
  double testlen_total = 0, reflen_total = 0;
  std::array<double, kMaxN> guess{}, correct{};
  for (const Item& item : items) {
    const auto testlen = static_cast<int64_t>(item.hypothesis.size());
    // Closest reference length; on a tie in distance the shorter one (Python's tuple min).
    int64_t best_len = -1, best_diff = -1;
    NgramCounts maxcounts;
    for (const Tokens& ref : item.references) {
      const auto len = static_cast<int64_t>(ref.size());
      const int64_t diff = std::llabs(len - testlen);
      if (best_len < 0 || diff < best_diff || (diff == best_diff && len < best_len)) best_len = len, best_diff = diff;
      const NgramCounts counts = precook(ref);
      for (int k = 0; k < kMaxN; ++k) {
        for (const auto& [gram, c] : counts[k]) maxcounts[k][gram] = std::max(maxcounts[k][gram], c);
      }
    }
    testlen_total += static_cast<double>(testlen);
    reflen_total += static_cast<double>(best_len);
    const NgramCounts counts = precook(item.hypothesis);
    for (int k = 0; k < kMaxN; ++k) {
      guess[k] += static_cast<double>(std::max<int64_t>(0, testlen - k));
      for (const auto& [gram, c] : counts[k]) {
        const auto it = maxcounts[k].find(gram);
        correct[k] += std::min(it == maxcounts[k].end() ? 0 : it->second, c);
      }
    }
  }
  std::array<double, kMaxN> scores{};
  double product = 1.0;
  for (int k = 0; k < kMaxN; ++k) {
    product *= (correct[k] + kTiny) / (guess[k] + kSmall);
    scores[k] = std::pow(product, 1.0 / (k + 1));
  }
  const double ratio = (testlen_total + kTiny) / (reflen_total + kSmall);
  if (ratio < 1) {
    for (double& s : scores) s *= std::exp(1 - 1 / ratio);
  }
  return scores;
}

size_t lcs_length(const Tokens& a, const Tokens& b) {
  std::vector<size_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

double rouge_l(const std::vector<Item>& items) {
  constexpr double kBeta = 1.2;
  // rouge.py splits on " ", so an empty caption is one empty token.
  auto split_space = [](const Tokens& t) { return t.empty() ? Tokens{""} : t; };
  double sum = 0;
  for (const Item& item : items) {
    const Tokens cand = split_space(item.hypothesis);
    double prec_max = 0, rec_max = 0;
    for (const Tokens& r : item.references) {
      const Tokens ref = split_space(r);
      const auto lcs = static_cast<double>(lcs_length(ref, cand));
      prec_max = std::max(prec_max, lcs / static_cast<double>(cand.size()));
      rec_max = std::max(rec_max, lcs / static_cast<double>(ref.size()));
    }
    if (prec_max != 0 && rec_max != 0) {
      sum += ((1 + kBeta * kBeta) * prec_max * rec_max) / (rec_max + kBeta * kBeta * prec_max);
    }
  }
  return sum / static_cast<double>(items.size());
}

// A CIDEr tf-idf vector: weights per n-gram order, their norms and the bigram count that
// cider_scorer.py uses as "length" (its `if n == 1` tests the 0-based order index).
struct TfIdf {
  std::array<std::unordered_map<std::string, double>, kMaxN> vec;
  std::array<double, kMaxN> norm{};
  double length = 0;
};

double cider_d(const std::vector<Item>& items) {
  constexpr double kSigma = 6.0;
  std::array<std::unordered_map<std::string, double>, kMaxN> doc_freq;
  std::vector<NgramCounts> test_counts;
  std::vector<std::vector<NgramCounts>> ref_counts;
  for (const Item& item : items) {
    test_counts.push_back(precook(item.hypothesis));
    ref_counts.emplace_back();
    NgramCounts seen;
    for (const Tokens& r : item.references) {
      ref_counts.back().push_back(precook(r));
      for (int k = 0; k < kMaxN; ++k) {
        for (const auto& [gram, c] : ref_counts.back().back()[k]) seen[k][gram] = 1;
      }
    }
    for (int k = 0; k < kMaxN; ++k) {
      for (const auto& [gram, c] : seen[k]) doc_freq[k][gram] += 1;
    }
  }
  const double ref_len = std::log(static_cast<double>(items.size()));
  auto to_vec = [&](const NgramCounts& counts) {
    TfIdf v;
    for (int k = 0; k < kMaxN; ++k) {
      for (const auto& [gram, tf] : counts[k]) {
        const auto it = doc_freq[k].find(gram);
        const double df = std::log(std::max(1.0, it == doc_freq[k].end() ? 0.0 : it->second));
        const double w = static_cast<double>(tf) * (ref_len - df);
        v.vec[k][gram] = w;
        v.norm[k] += w * w;
        if (k == 1) v.length += tf;
      }
      v.norm[k] = std::sqrt(v.norm[k]);
    }
    return v;
  };
  double total = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const TfIdf hyp = to_vec(test_counts[i]);
    std::array<double, kMaxN> score{};
    for (const NgramCounts& rc : ref_counts[i]) {
      const TfIdf ref = to_vec(rc);
      const double delta = hyp.length - ref.length;
      for (int k = 0; k < kMaxN; ++k) {
        double val = 0;
        for (const auto& [gram, wh] : hyp.vec[k]) {
          const auto it = ref.vec[k].find(gram);
          const double wr = it == ref.vec[k].end() ? 0.0 : it->second;
          val += std::min(wh, wr) * wr;  // clipped
        }
        if (hyp.norm[k] != 0 && ref.norm[k] != 0) val /= hyp.norm[k] * ref.norm[k];
        val *= std::exp(-(delta * delta) / (2 * kSigma * kSigma));
        score[k] += val;
      }
    }
    double mean = 0;
    for (double s : score) mean += s;
    mean /= kMaxN;
    total += mean / static_cast<double>(ref_counts[i].size()) * 10.0;
  }
  return total / static_cast<double>(items.size());
}

using Tokenize = Tokens (*)(const std::string&);

std::map<std::string, double> score_with(const Predictions& predictions, const References& references,
                                         Tokenize tokenize) {
  if (predictions.empty()) throw Error("caption metrics: no predictions to score");
  std::vector<Item> items;
  for (const auto& [id, caption] : predictions) {
    const auto it = references.find(id);
    if (it == references.end() || it->second.empty()) {
      throw Error(str("caption metrics: image '", id, "' has a prediction but no reference captions"));
    }
    Item item{.hypothesis = tokenize(caption)};
    for (const std::string& r : it->second) item.references.push_back(tokenize(r));
    items.push_back(std::move(item));
  }
  const auto b = bleu(items);
  return {{"BLEU-1", b[0]},         {"BLEU-2", b[1]},           {"BLEU-3", b[2]},
          {"BLEU-4", b[3]},         {"ROUGE-L", rouge_l(items)}, {"CIDEr-D", cider_d(items)}};
}

std::string id_string(const nlohmann::json& id, const std::string& where) {
  if (id.is_string()) return id.get<std::string>();
  if (id.is_number_integer() || id.is_number_unsigned()) return id.dump();
  throw FileError(where, "\"image_id\" must be a string or an integer");
}

// Calls fn(object, "PATH:LINE") for every object of a JSONL file; each needs an "image_id".
template <typename Fn>
void for_each_jsonl(const std::string& path, Fn fn) {
  io::for_each_jsonl_object(path, [&](const nlohmann::json& j, const std::string& where) {
    if (!j.contains("image_id")) throw FileError(where, "expected an object with \"image_id\"");
    fn(j, where);
  });
}

std::string caption_string(const nlohmann::json& c, const std::string& where) {
  if (!c.is_string()) throw FileError(where, "captions must be strings");
  return c.get<std::string>();
}

}  // namespace

std::map<std::string, double> score_captions(const Predictions& predictions, const References& references) {
  return score_with(predictions, references, [](const std::string& s) { return ptb_tokenize(s); });
}

std::map<std::string, double> score_tokenized_captions(const Predictions& predictions,
                                                       const References& references) {
  return score_with(predictions, references, [](const std::string& s) { return split_ws(s); });
}

Predictions read_predictions_jsonl(const std::string& path) {
  Predictions out;
  for_each_jsonl(path, [&](const nlohmann::json& j, const std::string& where) {
    if (!j.contains("caption")) throw FileError(where, "expected \"caption\"");
    const std::string id = id_string(j["image_id"], where);
    if (out.count(id) != 0) throw FileError(where, str("second prediction for image '", id, "'"));
    out[id] = caption_string(j["caption"], where);
  });
  if (out.empty()) throw FileError(path, "no predictions");
  return out;
}

References read_references_jsonl(const std::string& path) {
  References out;
  for_each_jsonl(path, [&](const nlohmann::json& j, const std::string& where) {
    const std::string id = id_string(j["image_id"], where);
    if (j.contains("captions")) {
      if (!j["captions"].is_array()) throw FileError(where, "\"captions\" must be a list of strings");
      for (const auto& c : j["captions"]) out[id].push_back(caption_string(c, where));
    } else if (j.contains("caption")) {
      out[id].push_back(caption_string(j["caption"], where));
    } else {
      throw FileError(where, "expected \"captions\" (a list) or \"caption\"");
    }
  });
  if (out.empty()) throw FileError(path, "no references");
  return out;
}

}  // namespace vlm::eval
