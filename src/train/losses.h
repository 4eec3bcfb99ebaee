// Training losses: the symmetric CLIP contrastive loss (OpenCLIP's ClipLoss, with its
// gather-with-gradient data parallel mode and per-rank label offset), BLIP-2's max-over-queries
// similarity and image-text matching (ITM) hard negatives, and the causal LM loss normalised by
// the supervised tokens of the whole accumulated batch (torchtitan's train step).
// Shape letters: B local batch, G = world_size * B gathered batch, Q queries, E embedding,
// T tokens, V vocab.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace vlm::train {

class Distributed;  // distributed.h

constexpr int64_t kIgnoreIndex = -100;  // labels with this value are not supervised

// exp(log_scale) clamped at max_scale, as CLIP's learned temperature ("clipped to prevent scaling
// the logits by more than 100"). log_scale: a scalar parameter, initialised to log(1 / 0.07).
at::Tensor learned_logit_scale(const at::Tensor& log_scale, double max_scale = 100.0);
// OpenCLIP's in-place clamp of the parameter after each optimizer step (no gradient).
void clamp_log_scale_(const at::Tensor& log_scale, double max_scale = 100.0);

struct ContrastiveOptions {
  double temperature = 0.07;  // fixed temperature (the reference), used when logit_scale is undefined
  at::Tensor logit_scale;     // a scalar 1/temperature, e.g. learned_logit_scale(param); overrides temperature
  bool normalize = true;      // L2-normalise both embeddings along E first (idempotent if already unit)
  // NegCLIP's hard negatives (negative_captions.h): (B, E) embeddings of the local captions'
  // perturbed twins, scored as extra columns of the image->text direction only (they have no
  // image). negative_valid (B,) bool marks the rows that have a twin; the others are left out.
  // Gathered from every rank with gradients, like the texts, so each image meets all G twins.
  at::Tensor negative_text_embeds;
  at::Tensor negative_valid;
};

struct ContrastiveOutput {
  at::Tensor loss;             // scalar fp32: (CE(image->text) + CE(text->image)) / 2 over the local rows
  at::Tensor logits_per_image; // (B, G) scaled similarities of local images vs every text (twins excluded)
  at::Tensor logits_per_text;  // (B, G) scaled similarities of local texts vs every image
  int64_t label_offset = 0;    // rank * B: local row i matches column label_offset + i
};

// image_embeds: (B, E), or (B, Q, E) for BLIP-2's query embeddings, where the similarity of an
// image and a text is the max over the Q queries of their dot products. text_embeds: (B, E).
// With `dist` running more than one process, the embeddings of every rank are gathered WITH
// gradients (OpenCLIP's gather_with_grad + local_loss): each rank scores its B rows against
// all G columns; after gradients are averaged across ranks this equals the loss over the whole
// G batch on one process. Every rank must pass the same B (drop the last uneven batch).
// Computed in fp32 whatever the input dtype (double inputs stay double).
ContrastiveOutput contrastive_loss(const at::Tensor& image_embeds, const at::Tensor& text_embeds,
                                   const ContrastiveOptions& options = {}, const Distributed* dist = nullptr);

// BLIP-2's ITM batch built from one contrastive step. Indices are rows of the gathered batch
// (G rows; equal to B on one process): the caller runs the Q-Former's multimodal mode on
// image[image_index[k]] with text[text_index[k]] for k in 0..3B-1, in this order:
//   rows 0..B-1   positives (local image i, local text i)             label 1
//   rows B..2B-1  (hard negative image for local text i, local text i) label 0
//   rows 2B..3B-1 (local image i, hard negative text for local image i) label 0
struct ItmPlan {
  at::Tensor image_index;  // (3B,) int64, on the device of the logits
  at::Tensor text_index;   // (3B,) int64
  at::Tensor labels;       // (3B,) int64: [1]*B + [0]*2B
};

// Samples the hard negatives with probability softmax(similarity row), the matching pair
// excluded (its weight set to 0, as BLIP-2 does), as a pure function of (seed, which samples
// meet): Gumbel-max with noise keyed by the ids of the row's and the column's samples.
// sample_ids (G,) int64 names the gathered samples in column order (e.g. a hash of each sample's
// key, gathered like the embeddings); then one process and any number of ranks holding the same
// global batch draw the same negatives. Undefined: ids are the column positions. Pass a seed that
// changes per step, the same on every rank. No gradient flows; one small device->host copy.
ItmPlan sample_itm_negatives(const ContrastiveOutput& contrastive, uint64_t seed, const at::Tensor& sample_ids = {});

// 2-class cross-entropy of the ITM head: itm_logits (3B, 2), labels from ItmPlan. fp32.
at::Tensor itm_loss(const at::Tensor& itm_logits, const at::Tensor& labels);

// Image tagging (caption_tags.h): binary cross-entropy of tag_logits (B, K) against multi-hot
// targets (B, K), summed over the K tags and averaged over the B images, in fp32. Each rank
// averages its own rows: with equal B everywhere, the trainer's mean over ranks is the mean
// over the global batch.
at::Tensor tag_loss(const at::Tensor& tag_logits, const at::Tensor& targets);

// Causal LM loss: logits (B, T, V) in any float dtype, labels (B, T) int64 with kIgnoreIndex
// on unsupervised positions. logits[:, t] predicts labels[:, t + 1] (the shift is done here).
// Returns sum over supervised tokens of -log p, in fp32, divided by `num_supervised_tokens`:
// pass the count over the WHOLE accumulated batch (all micro-batches, all ranks) so that the
// accumulated gradient equals that of one big batch. A tensor count avoids a host sync.
at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& num_supervised_tokens);
at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels, double num_supervised_tokens);

// The same loss with the shift already done: logits (..., V) at the positions that predict a
// token, targets (...) int64 with kIgnoreIndex where nothing is predicted; logits[..., j, :]
// predicts targets[..., j]. What causal_lm_loss reduces to after its shift, for callers that
// computed the LM head only at the positions that have a target (VisionLanguageModel's
// target_logits_and_labels). Its backward allocates one (N, V) gradient (softmax - one_hot)
// where F::cross_entropy's allocates two and keeps a third (log_softmax) alive from forward.
at::Tensor target_lm_loss(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& num_supervised_tokens);

// Supervised tokens after the shift: count of labels[:, 1:] != kIgnoreIndex, an int64 scalar
// tensor on the labels' device (no sync). Sum it over micro-batches (and ranks:
// supervised_tokens_in_batch in step_utils.h) before calling causal_lm_loss; with a count summed
// over ranks, reduce gradients with GradReduction::kSum.
at::Tensor count_supervised_tokens(const at::Tensor& labels);

}  // namespace vlm::train
