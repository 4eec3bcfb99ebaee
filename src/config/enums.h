// The enumerated settings, parsed from their YAML / config.json names once, at the config boundary,
// so the code past it switches on enums instead of comparing strings. Each enum's names are listed
// once (EnumNames<E>); to_string, parse_enum and bind_enum (a Binder field) derive from that list.
// Header-only and torch-free: models/ and train/ include it without linking the YAML reader.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "config/binder.h"
#include "core/error.h"

namespace vlm::config {

// What a run trains (train.stage).
enum class Stage { kStage1, kStage2, kLm };
// How an image's query embeddings (Q of them) score against a text embedding (qformer.similarity):
// the max over queries (BLIP-2), or the cosine with the re-normalised mean query (the reference tutorial).
enum class QuerySimilarity { kMax, kMean };
// What stage 1's tagging head reads (train.tag_source): the Q-Former's queries or the ViT's patch tokens.
enum class TagSource { kQueries, kVisionPatches };
// Autocast precision (train.precision): auto = bf16 on GPUs that support it, else fp32.
enum class Precision { kAuto, kFp32, kBf16 };
// The optimizer (train.optimizer): AdamW (decoupled weight decay) or Adam (no weight decay).
enum class OptimizerKind { kAdamW, kAdam };
// The learning-rate schedule after warmup (train.schedule).
enum class ScheduleKind { kConstant, kLinear, kCosine };

// The names, in the enums' declaration order.
template <typename E>
struct EnumNames;
template <>
struct EnumNames<Stage> {
  static constexpr std::array<std::string_view, 3> names = {"stage1", "stage2", "lm"};
};
template <>
struct EnumNames<QuerySimilarity> {
  static constexpr std::array<std::string_view, 2> names = {"max", "mean"};
};
template <>
struct EnumNames<TagSource> {
  static constexpr std::array<std::string_view, 2> names = {"queries", "vision_patches"};
};
template <>
struct EnumNames<Precision> {
  static constexpr std::array<std::string_view, 3> names = {"auto", "fp32", "bf16"};
};

template <>
struct EnumNames<OptimizerKind> {
  static constexpr std::array<std::string_view, 2> names = {"adamw", "adam"};
};
template <>
struct EnumNames<ScheduleKind> {
  static constexpr std::array<std::string_view, 3> names = {"constant", "linear", "cosine"};
};

template <typename E>
constexpr std::string_view to_string(E value) {
  return EnumNames<E>::names.at(static_cast<size_t>(value));
}

template <typename E>
constexpr std::optional<E> parse_enum(std::string_view name) {
  for (size_t i = 0; i < EnumNames<E>::names.size(); ++i)
    if (EnumNames<E>::names[i] == name) return static_cast<E>(i);
  return std::nullopt;
}

// "'x' is not one of: a, b" for an error message.
template <typename E>
std::string not_one_of(std::string_view name) {
  std::string out = str("'", name, "' is not one of: ");
  for (size_t i = 0; i < EnumNames<E>::names.size(); ++i) out += str(i ? ", " : "", EnumNames<E>::names[i]);
  return out;
}

// parse_enum that throws ConfigError naming `key` and the accepted names.
template <typename E>
E parse_enum_or_throw(std::string_view name, const std::string& key) {
  if (const auto value = parse_enum<E>(name)) return *value;
  throw ConfigError(key, not_one_of<E>(name));
}

// A Binder field for an enum: read and written as its name, the other names refused with the list.
template <typename E>
void bind_enum(Binder& b, std::string_view key, E& value, std::string_view doc) {
  const std::vector<std::string> choices(EnumNames<E>::names.begin(), EnumNames<E>::names.end());
  std::string name(to_string(value));
  b.field(key, name, doc, choices);
  value = parse_enum_or_throw<E>(name, std::string(key));  // the reader has checked it is a choice
}

template <typename E, typename = decltype(EnumNames<E>::names)>
std::ostream& operator<<(std::ostream& out, E value) {
  return out << to_string(value);
}

}  // namespace vlm::config
