// Image tagging from captions, after Tag2Text (Huang et al., "Tag2Text: Guiding vision-language
// model via image tagging", ICLR 2024): the words and word pairs that captions use often become
// a tag vocabulary, and stage 1 learns to predict from the image which of them its caption
// holds (multi-label, one logistic output per tag). The contrastive loss alone separates an
// image from the batch's other captions by whatever differs first (colours, counts); a tag per
// attribute, and per pair of attributes ("red square"), asks for every one of them.
//
// Tags are lower-cased runs of letters: single words and pairs of neighbouring words, neither a
// stop word, with no punctuation between them. The vocabulary is a pure function of the
// training captions, so every rank and a resumed run build the same one.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vlm::train {

class CaptionTags {
 public:
  // The `max_tags` tags found in the most captions (at least `min_count` of them), ties broken
  // alphabetically; `captions` is the training split's.
  static CaptionTags build(const std::vector<std::string>& captions, int64_t max_tags, int64_t min_count);

  // (B, K) float multi-hot: which tags each caption holds.
  at::Tensor targets(const std::vector<std::string>& captions) const;
  // Logit of each tag's share of training captions (K,): the tag head's starting bias, so that
  // the loss starts at the prior's entropy rather than at K log 2.
  at::Tensor prior_logits() const;

  int64_t size() const { return static_cast<int64_t>(tags_.size()); }
  const std::vector<std::string>& tags() const { return tags_; }

  // The tags of one caption, each once, in order of first appearance ("red square" for a pair).
  static std::vector<std::string> caption_tags(const std::string& caption);

 private:
  std::vector<std::string> tags_;
  std::vector<double> share_;                   // share of training captions holding each tag
  std::map<std::string, int64_t, std::less<>> index_;
};

}  // namespace vlm::train
