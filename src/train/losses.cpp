// Contrastive (OpenCLIP ClipLoss, local_loss + gather_with_grad; BLIP-2's max over queries),
// ITM hard negatives (LAVIS blip2_qformer.py: softmax weights, diagonal zeroed, multinomial) and
// the causal LM loss with global token normalisation (torchtitan). Written here rather than
// taken from a library: none exists for LibTorch C++, and each is a few lines over ATen ops.
#include "train/losses.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "core/random.h"
#include "train/distributed.h"

namespace vlm::train {

namespace F = torch::nn::functional;

namespace {
// Losses are reduced in fp32 (bf16/fp16 inputs are upcast); double stays double for gradient checks.
at::ScalarType loss_dtype(const at::Tensor& t) { return t.scalar_type() == at::kDouble ? at::kDouble : at::kFloat; }

// Losses run with autocast off even inside an autocast region: it would put the similarity
// matmuls back into bf16. (Excluding the autocast dispatch keys is what autocast's own kernels do.)
struct NoAutocast {
  c10::impl::ExcludeDispatchKeyGuard guard{c10::autocast_dispatch_keyset};
};
}  // namespace

at::Tensor learned_logit_scale(const at::Tensor& log_scale, double max_scale) {
  return log_scale.to(loss_dtype(log_scale)).clamp_max(std::log(max_scale)).exp();
}

void clamp_log_scale_(const at::Tensor& log_scale, double max_scale) {
  torch::NoGradGuard no_grad;
  log_scale.clamp_(0.0, std::log(max_scale));
}

namespace {

// (N, E) x (M, E) -> (N, M) dot products; (N, Q, E) images take BLIP-2's best-matching query
// (the scale > 0 applied afterwards commutes with the max).
at::Tensor image_text_similarity(const at::Tensor& image, const at::Tensor& text) {
  if (image.dim() == 2) return at::matmul(image, text.t());
  return std::get<0>(at::matmul(image, text.t()).max(/*dim=*/1));  // (N, Q, M) -> (N, M)
}

}  // namespace

ContrastiveOutput contrastive_loss(const at::Tensor& image_embeds, const at::Tensor& text_embeds,
                                   const ContrastiveOptions& options, const Distributed* dist) {
  TORCH_CHECK(image_embeds.dim() == 2 || image_embeds.dim() == 3,
              "contrastive_loss: image_embeds must be (B, E) or (B, Q, E), got ", image_embeds.sizes());
  TORCH_CHECK(text_embeds.dim() == 2, "contrastive_loss: text_embeds must be (B, E), got ", text_embeds.sizes());
  TORCH_CHECK(image_embeds.size(0) == text_embeds.size(0) && image_embeds.size(-1) == text_embeds.size(-1),
              "contrastive_loss: image ", image_embeds.sizes(), " and text ", text_embeds.sizes(),
              " disagree on B or E");
  const NoAutocast no_autocast;
  const at::ScalarType dtype = loss_dtype(image_embeds);
  at::Tensor image = image_embeds.to(dtype);
  at::Tensor text = text_embeds.to(dtype);
  if (options.normalize) {
    image = F::normalize(image, F::NormalizeFuncOptions().dim(-1));
    text = F::normalize(text, F::NormalizeFuncOptions().dim(-1));
  }
  const at::Tensor scale = options.logit_scale.defined()
                               ? options.logit_scale.to(dtype)
                               : at::scalar_tensor(1.0 / options.temperature, image.options());

  const int64_t batch = image.size(0);
  at::Tensor all_image = image;  // (G, E) or (G, Q, E)
  at::Tensor all_text = text;    // (G, E)
  ContrastiveOutput out;
  if (dist != nullptr && dist->enabled()) {
    all_image = dist->all_gather_with_grad(image);
    all_text = dist->all_gather_with_grad(text);
    out.label_offset = static_cast<int64_t>(dist->rank()) * batch;
  }

  out.logits_per_image = scale * image_text_similarity(image, all_text);           // (B, G)
  out.logits_per_text = scale * image_text_similarity(all_image, text).t();         // (B, G)
  const at::Tensor labels =
      at::arange(out.label_offset, out.label_offset + batch, image.options().dtype(at::kLong));  // (B,)
  at::Tensor i2t_logits = out.logits_per_image;
  if (options.negative_text_embeds.defined()) {
    TORCH_CHECK(options.negative_text_embeds.sizes() == text_embeds.sizes() && options.negative_valid.defined() &&
                    options.negative_valid.numel() == batch,
                "contrastive_loss: negative_text_embeds must be shaped as text_embeds, with negative_valid (B,)");
    at::Tensor negatives = options.negative_text_embeds.to(dtype);
    if (options.normalize) negatives = F::normalize(negatives, F::NormalizeFuncOptions().dim(-1));
    at::Tensor valid = options.negative_valid.to(at::kBool);
    if (dist != nullptr && dist->enabled()) {
      negatives = dist->all_gather_with_grad(negatives);
      valid = dist->all_gather(valid.to(at::kInt)).to(at::kBool);
    }
    const at::Tensor twin_logits = scale * image_text_similarity(image, negatives);  // (B, G)
    i2t_logits = at::cat({i2t_logits, twin_logits.masked_fill(valid.logical_not().unsqueeze(0),
                                                              -std::numeric_limits<double>::infinity())}, 1);
  }
  out.loss = 0.5 * (F::cross_entropy(i2t_logits, labels) + F::cross_entropy(out.logits_per_text, labels));
  return out;
}

namespace {

// One draw per row from softmax(row) + 1e-4 with the matching column zeroed (LAVIS adds 1e-4 so
// that a row whose softmax mass sits all on the diagonal still has candidates), by the Gumbel-max
// trick: argmax_j log w_ij + Gumbel noise keyed by (seed, row id, column id). The draw of a row
// depends on which samples the columns hold, not on their order, so one process holding the
// whole batch and ranks holding shards of it pick the same negatives.
at::Tensor sample_rows(const at::Tensor& logits, int64_t offset, const at::Tensor& ids, uint64_t seed) {
  const int64_t rows = logits.size(0), cols = logits.size(1);
  at::Tensor weights = at::softmax(logits.detach().to(at::kDouble), 1).cpu() + 1e-4;  // (B, G)
  weights = at::nan_to_num(weights, /*nan=*/1e-4, /*posinf=*/1.0, /*neginf=*/0.0);
  const auto w = weights.accessor<double, 2>();
  const auto id = ids.accessor<int64_t, 1>();
  const uint64_t stream = mix64(seed);
  at::Tensor picks = at::empty({rows}, at::kLong);
  for (int64_t i = 0; i < rows; ++i) {
    double best = -std::numeric_limits<double>::infinity();
    int64_t best_j = i + offset == 0 ? 1 : 0;
    for (int64_t j = 0; j < cols; ++j) {
      if (j == i + offset) continue;
      const uint64_t key = stream ^ (static_cast<uint64_t>(id[i + offset]) * kGoldenGamma) ^
                           (static_cast<uint64_t>(id[j]) * 0xC2B2AE3D27D4EB4Full);
      const double u = unit_from_top53(mix64(key)) + 0x1.0p-54;  // (0, 1): k / 2^53 + half a step
      const double score = std::log(w[i][j]) - std::log(-std::log(u));
      if (score > best) best = score, best_j = j;
    }
    picks[i] = best_j;
  }
  return picks;  // (B,) column indices
}

}  // namespace

ItmPlan sample_itm_negatives(const ContrastiveOutput& contrastive, uint64_t seed, const at::Tensor& sample_ids) {
  const at::Tensor& lpi = contrastive.logits_per_image;
  const at::Tensor& lpt = contrastive.logits_per_text;
  TORCH_CHECK(lpi.defined() && lpt.defined() && lpi.dim() == 2 && lpi.sizes() == lpt.sizes(),
              "sample_itm_negatives: needs the (B, G) logits of a ContrastiveOutput");
  const int64_t batch = lpi.size(0), gathered = lpi.size(1);
  TORCH_CHECK(gathered >= 2, "sample_itm_negatives: a batch of one has no negatives");
  const at::Tensor ids = sample_ids.defined() ? sample_ids.to(at::kCPU, at::kLong).contiguous()
                                              : at::arange(gathered, at::kLong);  // (G,)
  TORCH_CHECK(ids.dim() == 1 && ids.size(0) == gathered, "sample_itm_negatives: sample_ids must be (G,), got ",
              ids.sizes(), " for ", gathered, " gathered samples");
  torch::NoGradGuard no_grad;
  // Two streams: the text drawn for each image, and the image drawn for each text.
  const at::Tensor neg_text = sample_rows(lpi, contrastive.label_offset, ids, seed_stream::itm_negative_texts(seed));        // (B,)
  const at::Tensor neg_image = sample_rows(lpt, contrastive.label_offset, ids, seed_stream::itm_negative_images(seed));   // (B,)
  const at::Tensor pos = at::arange(contrastive.label_offset, contrastive.label_offset + batch, at::kLong);

  ItmPlan plan;
  plan.image_index = at::cat({pos, neg_image, pos}).to(lpi.device());  // (3B,)
  plan.text_index = at::cat({pos, pos, neg_text}).to(lpi.device());    // (3B,)
  plan.labels = at::cat({at::ones({batch}, at::kLong), at::zeros({2 * batch}, at::kLong)}).to(lpi.device());
  return plan;
}

at::Tensor itm_loss(const at::Tensor& itm_logits, const at::Tensor& labels) {
  TORCH_CHECK(itm_logits.dim() == 2 && itm_logits.size(1) == 2 && labels.dim() == 1 &&
                  labels.size(0) == itm_logits.size(0),
              "itm_loss: logits must be (N, 2) and labels (N,), got ", itm_logits.sizes(), " and ", labels.sizes());
  const NoAutocast no_autocast;
  return F::cross_entropy(itm_logits.to(loss_dtype(itm_logits)), labels);
}

at::Tensor tag_loss(const at::Tensor& tag_logits, const at::Tensor& targets) {
  TORCH_CHECK(tag_logits.dim() == 2 && tag_logits.sizes() == targets.sizes(),
              "tag_loss: logits and targets must both be (B, K), got ", tag_logits.sizes(), " and ", targets.sizes());
  const NoAutocast no_autocast;
  const at::Tensor logits = tag_logits.to(loss_dtype(tag_logits));
  const auto options = F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone);
  return F::binary_cross_entropy_with_logits(logits, targets.to(logits.scalar_type()), options).sum(1).mean();
}

namespace {

// sum over the rows with a target of logsumexp(logits[i]) - logits[i, target[i]], with a backward
// that writes softmax - one_hot into one (N, V) buffer. F::cross_entropy keeps its log_softmax
// output (N, V) alive beside the logits for backward and allocates two more (N, V) tensors there
// (nll_loss's and log_softmax's gradients); at the LM head's width (V = 49152) those are the step's
// largest tensors.
struct SummedTokenCrossEntropy : torch::autograd::Function<SummedTokenCrossEntropy> {
  // logits (N, V) fp32 or double, targets (N,) int64 with kIgnoreIndex on rows without a target.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& targets) {
    const at::Tensor valid = targets.ne(kIgnoreIndex);                   // (N,)
    const at::Tensor index = targets.masked_fill(valid.logical_not(), 0).unsqueeze(1);  // (N, 1)
    const at::Tensor lse = at::logsumexp(logits, /*dim=*/{1});           // (N,)
    const at::Tensor nll = lse - logits.gather(1, index).squeeze(1);      // (N,)
    ctx->save_for_backward({logits, index, valid, lse});
    return at::where(valid, nll, at::zeros_like(nll)).sum();  // where, not *: an ignored row may be inf
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &logits = saved[0], &index = saved[1], &valid = saved[2], &lse = saved[3];
    at::Tensor grad = (logits - lse.unsqueeze(1)).exp_();  // (N, V) softmax, the one allocation
    grad.scatter_add_(1, index, at::full_like(lse, -1.0).unsqueeze(1));  // - one_hot(target)
    grad.mul_((valid.to(grad.scalar_type()) * grad_out[0].to(grad.scalar_type())).unsqueeze(1));  // ignored rows: 0
    return {grad, at::Tensor()};
  }
};

}  // namespace

at::Tensor target_lm_loss(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& num_supervised_tokens) {
  TORCH_CHECK(logits.dim() >= 2 && targets.dim() == logits.dim() - 1 &&
                  targets.sizes() == logits.sizes().slice(0, logits.dim() - 1),
              "target_lm_loss: logits must be (..., V) and targets the same leading shape, got ", logits.sizes(),
              " and ", targets.sizes());
  const NoAutocast no_autocast;
  const int64_t vocab = logits.size(-1);
  const at::Tensor predicted = logits.reshape({-1, vocab}).to(loss_dtype(logits));  // (N, V)
  const at::Tensor target = targets.reshape({-1}).to(at::kLong);                     // (N,)
  const at::Tensor total = SummedTokenCrossEntropy::apply(predicted, target);
  // A batch with no supervised token contributes 0, not 0/0.
  return total / num_supervised_tokens.to(total.device(), total.scalar_type()).clamp_min(1.0);
}

at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& num_supervised_tokens) {
  TORCH_CHECK(logits.dim() == 3 && labels.dim() == 2 && logits.size(0) == labels.size(0) &&
                  logits.size(1) == labels.size(1),
              "causal_lm_loss: logits must be (B, T, V) and labels (B, T), got ", logits.sizes(), " and ",
              labels.sizes());
  const int64_t steps = logits.size(1) - 1;
  // logits[:, t] predicts labels[:, t + 1].
  return target_lm_loss(logits.narrow(1, 0, steps), labels.narrow(1, 1, steps), num_supervised_tokens);
}

at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels, double num_supervised_tokens) {
  return causal_lm_loss(logits, labels, at::scalar_tensor(num_supervised_tokens, at::kDouble));
}

at::Tensor count_supervised_tokens(const at::Tensor& labels) {
  TORCH_CHECK(labels.dim() == 2, "count_supervised_tokens: labels must be (B, T), got ", labels.sizes());
  return labels.narrow(1, 1, labels.size(1) - 1).ne(kIgnoreIndex).sum().to(at::kLong);
}

}  // namespace vlm::train
