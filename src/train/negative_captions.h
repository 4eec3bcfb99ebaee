// Hard negative captions for the stage-1 contrastive loss, after NegCLIP (Yuksekgonul et al.,
// "When and why vision-language models behave like bags-of-words", ICLR 2023): each caption
// gets a twin that differs in one word, so an image must tell its caption from one naming a
// different shape, or the same shapes with their colours exchanged. In-batch negatives alone
// rarely differ that little, and a model can match most of them by its colours and counts.
//
// The perturbation is driven by word groups from the config (`train.negative_words`, e.g.
// "circle square triangle" and "red green blue"): a word of a group is replaced by another of
// the same group, or two different words of one group swap places. The choice depends only on
// the caption, the seed and the step, so every rank and every world size makes the same twin.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/word_groups.h"

namespace vlm::train {

// The caption with one replacement or one swap (words are matched case-insensitively, as whole
// runs of letters; punctuation and spacing are kept), or nullopt when no word of any group
// occurs in it. When both kinds are possible each is drawn half the time.
std::optional<std::string> negative_caption(const std::string& caption, const config::WordGroups& words, uint64_t seed);

}  // namespace vlm::train
