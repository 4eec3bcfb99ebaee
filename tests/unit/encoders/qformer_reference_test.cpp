// The Q-Former's forward against a float64 restatement written here from BLIP-2's definition (LAVIS
// Qformer.py: post-norm BERT layers; queries and text share self-attention; queries alone cross-attend
// to the image every cross_attention_freq layers and run their own FFN; the four modes differ in the
// self-attention mask). The Q-Former has no transformers counterpart, so this is its reference: plain
// float64 matmuls, softmax and layer norms over the weights read by name, no code of src/models.
// Shape letters: B batch, Q queries, T text tokens, P vision tokens, D width, H heads, Dh head width.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "core/error.h"
#include "encoder_test_util.h"
#include "models/qformer.h"

namespace vlm::models {
namespace {

enum class Mode { kImage, kText, kMultimodal, kCausal };

// The restatement. Names are the checkpoint's, per layout.
class Reference {
 public:
  Reference(QFormer& q, bool bert) : bert_(bert), cfg_(q->config()) {
    for (const auto& p : q->named_parameters()) w_[p.key()] = p.value().detach().to(at::kDouble);
    const EncoderDims d = cfg_.text_dims();
    heads_ = d.num_heads;
    eps_ = d.layer_norm_eps;
    layers_ = d.num_layers;
  }

  // Returns (queries (B, Q, D) or undefined, text (B, T, D) or undefined).
  std::pair<at::Tensor, at::Tensor> run(Mode mode, const at::Tensor& vision_in, const at::Tensor& ids,
                                        const at::Tensor& text_mask) {
    const bool has_q = mode != Mode::kText, has_t = mode != Mode::kImage;
    const at::Tensor vision = has_q ? vision_in.to(at::kDouble) : at::Tensor();
    const int64_t B = has_q ? vision.size(0) : ids.size(0);
    const int64_t Q = has_q ? cfg_.num_query_tokens : 0, T = has_t ? ids.size(1) : 0;
    std::vector<at::Tensor> parts;
    if (has_q) parts.push_back(layer_norm(w("query_tokens").expand({B, Q, -1}), "embeddings.LayerNorm"));
    if (has_t) {
      at::Tensor e = w("embeddings.word_embeddings.weight").index_select(0, ids.flatten()).view({B, T, -1}) +
                     w("embeddings.position_embeddings.weight").slice(0, 0, T).unsqueeze(0);  // (B, T, D)
      if (bert_) e = e + w("embeddings.token_type_embeddings.weight")[0];
      parts.push_back(layer_norm(e, "embeddings.LayerNorm"));
    }
    at::Tensor x = at::cat(parts, 1);  // (B, Q + T, D)
    const at::Tensor allowed = self_attention_allowed(mode, B, Q, T, text_mask);  // (B, 1, Q + T, Q + T)
    for (int64_t i = 0; i < layers_; ++i) {
      const std::string L = str(bert_ ? "encoder.layer." : "transformer.layer.", i, ".");
      const at::Tensor a = attention_block(x, x, allowed, L, "attention", "sa_layer_norm");
      at::Tensor q = a.slice(1, 0, Q), t = a.slice(1, Q);
      if (Q > 0) {
        if (i % cfg_.cross_attention_freq == 0) q = attention_block(q, vision, {}, L, "crossattention", "ca_layer_norm");
        q = ffn_block(q, L, cfg_.query_ffn ? "_query" : "");
      }
      if (T > 0) t = ffn_block(t, L, "");
      x = at::cat({q, t}, 1);
    }
    return {has_q ? x.slice(1, 0, Q) : at::Tensor(), has_t ? x.slice(1, Q) : at::Tensor()};
  }

 private:
  const at::Tensor& w(const std::string& name) const {
    const auto it = w_.find(name);
    if (it == w_.end()) throw std::runtime_error("no parameter " + name);
    return it->second;
  }
  at::Tensor linear(const at::Tensor& x, const std::string& name) const {
    return at::matmul(x, w(name + ".weight").t()) + w(name + ".bias");
  }
  at::Tensor layer_norm(const at::Tensor& x, const std::string& name) const {
    const at::Tensor mean = x.mean(-1, /*keepdim=*/true);
    const at::Tensor var = (x - mean).pow(2).mean(-1, /*keepdim=*/true);  // biased, as LayerNorm
    return (x - mean) / at::sqrt(var + eps_) * w(name + ".weight") + w(name + ".bias");
  }
  static at::Tensor gelu(const at::Tensor& x) { return 0.5 * x * (1.0 + at::erf(x / std::sqrt(2.0))); }

  // Which key each query row may see.
  at::Tensor self_attention_allowed(Mode mode, int64_t B, int64_t Q, int64_t T, const at::Tensor& text_mask) const {
    at::Tensor keys = at::ones({B, Q + T}, at::kBool);
    if (T > 0 && text_mask.defined()) keys.slice(1, Q).copy_(text_mask.ne(0));
    at::Tensor allowed = keys.view({B, 1, 1, Q + T}).expand({B, 1, Q + T, Q + T}).clone(at::MemoryFormat::Contiguous);
    if (mode == Mode::kCausal) {
      for (int64_t r = 0; r < Q + T; ++r)
        for (int64_t c = 0; c < Q + T; ++c) {
          const bool ok = r < Q ? c < Q : (c < Q || c <= r);  // queries see queries; text sees queries + past text
          if (!ok) allowed.select(2, r).select(2, c).fill_(false);
        }
    }
    return allowed;
  }

  // norm(x + out(softmax(q k^T / sqrt(Dh), masked) v)) with q from x, k and v from kv.
  at::Tensor attention_block(const at::Tensor& x, const at::Tensor& kv, const at::Tensor& allowed,
                             const std::string& L, const std::string& group, const std::string& distil_norm) const {
    const std::string qn = bert_ ? L + group + ".self.query" : L + group + ".q_lin";
    const std::string kn = bert_ ? L + group + ".self.key" : L + group + ".k_lin";
    const std::string vn = bert_ ? L + group + ".self.value" : L + group + ".v_lin";
    const std::string on = bert_ ? L + group + ".output.dense" : L + group + ".out_lin";
    const std::string nn = bert_ ? L + group + ".output.LayerNorm" : L + distil_norm;
    const int64_t B = x.size(0), Tq = x.size(1), S = kv.size(1), D = x.size(2), Dh = D / heads_;
    const at::Tensor q = linear(x, qn).view({B, Tq, heads_, Dh}).transpose(1, 2);   // (B, H, Tq, Dh)
    const at::Tensor k = linear(kv, kn).view({B, S, heads_, Dh}).transpose(1, 2);   // (B, H, S, Dh)
    const at::Tensor v = linear(kv, vn).view({B, S, heads_, Dh}).transpose(1, 2);   // (B, H, S, Dh)
    at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(Dh));  // (B, H, Tq, S)
    if (allowed.defined()) scores = scores.masked_fill(allowed.logical_not(), -INFINITY);
    const at::Tensor context = at::matmul(at::softmax(scores, -1), v).transpose(1, 2).reshape({B, Tq, D});
    return layer_norm(x + linear(context, on), nn);
  }

  // norm(x + down(gelu(up(x)))); suffix "_query" for the queries' own FFN.
  at::Tensor ffn_block(const at::Tensor& x, const std::string& L, const std::string& suffix) const {
    if (bert_)
      return layer_norm(x + linear(gelu(linear(x, L + "intermediate" + suffix + ".dense")), L + "output" + suffix + ".dense"),
                        L + "output" + suffix + ".LayerNorm");
    return layer_norm(x + linear(gelu(linear(x, L + "ffn" + suffix + ".lin1")), L + "ffn" + suffix + ".lin2"),
                      L + "output_layer_norm" + suffix);
  }

  bool bert_;
  QFormerConfig cfg_;
  std::map<std::string, at::Tensor> w_;
  int64_t heads_ = 0, layers_ = 0;
  double eps_ = 0;
};

struct Case {
  bool bert;
  int64_t cross_attention_freq;
  bool query_ffn;
};

class QFormerReference : public ::testing::TestWithParam<Case> {};

// Every mode, with padding, both layouts, cross-attention every layer or every other, with and without
// the query FFN. Weights are perturbed to O(1) so a wrong mask, order or name shows.
TEST_P(QFormerReference, ForwardMatchesFloat64Restatement) {
  const Case c = GetParam();
  QFormerConfig cfg = QFormerConfig::tiny();
  cfg.text_model_type = c.bert ? "bert" : "distilbert";
  cfg.cross_attention_freq = c.cross_attention_freq;
  cfg.query_ffn = c.query_ffn;
  torch::manual_seed(5);
  QFormer q(cfg);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : q->parameters()) p.add_(torch::randn_like(p) * 0.5);
  }
  q->eval();
  Reference ref(q, c.bert);

  const int64_t B = 2, T = 6, P = 5;
  const at::Tensor vision = torch::randn({B, P, cfg.encoder_width});
  const at::Tensor ids = torch::randint(1, 100, {B, T}, torch::kLong);
  at::Tensor mask = torch::ones({B, T}, torch::kLong);
  mask[1].slice(0, 4).fill_(0);  // the second caption is 4 tokens long

  torch::NoGradGuard no_grad;
  using test::all_close;
  const double tol = test::kFp32VsFp64;
  EXPECT_TRUE(all_close(q->forward_image(vision), ref.run(Mode::kImage, vision, {}, {}).first, tol));
  EXPECT_TRUE(all_close(q->forward_text(ids, mask), ref.run(Mode::kText, {}, ids, mask).second, tol));
  const auto mm = q->forward_multimodal(vision, ids, mask);
  const auto mm_ref = ref.run(Mode::kMultimodal, vision, ids, mask);
  EXPECT_TRUE(all_close(mm.query, mm_ref.first, tol));
  EXPECT_TRUE(all_close(mm.text, mm_ref.second, tol));
  const auto causal = q->forward_causal(vision, ids, mask);
  const auto causal_ref = ref.run(Mode::kCausal, vision, ids, mask);
  EXPECT_TRUE(all_close(causal.query, causal_ref.first, tol));
  EXPECT_TRUE(all_close(causal.text, causal_ref.second, tol));
}

INSTANTIATE_TEST_SUITE_P(Layouts, QFormerReference,
                         ::testing::Values(Case{/*bert=*/false, /*cross_attention_freq=*/2, /*query_ffn=*/true},
                                           Case{/*bert=*/true, /*cross_attention_freq=*/1, /*query_ffn=*/true},
                                           Case{/*bert=*/false, /*cross_attention_freq=*/1, /*query_ffn=*/false}));

// train()/eval() on the Q-Former reach the text encoder's blocks: one mode, set in one place.
TEST(QFormerModule, ModeReachesEveryBlockAndNamesAreTheCheckpoints) {
  QFormerConfig cfg = QFormerConfig::tiny();
  cfg.distilbert.dropout = 0.5;
  QFormer q(cfg);
  const at::Tensor vision = torch::randn({2, 5, cfg.encoder_width});
  q->eval();
  EXPECT_TRUE(torch::equal(q->forward_image(vision), q->forward_image(vision)));
  for (const auto& m : q->modules()) EXPECT_FALSE(m->is_training());
  q->train();
  for (const auto& m : q->modules()) EXPECT_TRUE(m->is_training());
  EXPECT_FALSE(torch::equal(q->forward_image(vision), q->forward_image(vision)));  // dropout is on
  // The encoder's modules are the Q-Former's own children, under the HF names the checkpoints hold.
  const auto params = q->named_parameters();
  EXPECT_TRUE(params.contains("embeddings.word_embeddings.weight"));
  EXPECT_TRUE(params.contains("transformer.layer.0.crossattention.q_lin.weight"));
  EXPECT_TRUE(params.contains("transformer.layer.1.ffn_query.lin1.weight"));
  EXPECT_EQ(params.keys().front(), "query_tokens");
}

}  // namespace
}  // namespace vlm::models
