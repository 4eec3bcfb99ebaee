// The model `vlm serve` holds: a stage-2 model (run, export or checkpoint) for chat, and a stage-1
// model for embeddings and search (--embed-model, or the model itself when it is a stage-1 one).
// The one file of serve/ that calls the inference layer (inference/), so everything else here
// sees only these few operations.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "data/image.h"
#include "models/decoder.h"
#include "models/generation.h"
#include "tokenizers/chat.h"

namespace vlm::serve {

struct Capabilities {
  bool chat = false;            // a stage-2 model: /v1/chat/completions
  bool vision = false;          // chat takes images
  bool embeddings = false;      // a stage-1 Q-Former with its tokenizer: /v1/embeddings, /v1/search
  int64_t context_length = 0;   // the LM's max_position_embeddings
  int64_t image_tokens = 0;     // LM positions one image takes (the Q-Former's queries)
  int64_t embedding_dim = 0;    // e.g. 256
};

class ModelHost {
 public:
  // `model`: a stage-2 or stage-1 run, export or checkpoint; `embed_model`: a stage-1 one for
  // embeddings (empty: `model` itself when it is a stage-1 model).
  ModelHost(const std::string& model, const std::string& embed_model);
  ~ModelHost();
  const Capabilities& capabilities() const { return caps_; }

  // Chat. Token ids of the conversation through the model's chat template (system prompt of the
  // training run first unless given), ending with the assistant generation prompt.
  std::vector<int64_t> prompt_ids(const std::vector<tokenizers::ChatMessage>& messages) const;
  std::string default_prompt() const;                      // the first training prompt
  models::GenerationConfig generation_defaults() const;    // the run's settings with its stop ids
  // Images of one request (N, 3, H, W) and the B=1 prefill of [image tokens of every image][prompt]
  // into `cache`, exactly as `vlm caption` does it: the last position's logits (1, V) fp32.
  at::Tensor prefill(const std::vector<data::Image>& images, const std::vector<int64_t>& ids, models::KVCache& cache);
  models::DecoderLMImpl& lm();
  std::string decode(const std::vector<int64_t>& ids) const;

  // Embeddings in the stage-1 space. Texts (N, E) L2-normalised; images as their query
  // embeddings (N, Q, E) (each normalised, as retrieval uses them) and one vector per image
  // (N, E): the normalised mean of its query embeddings.
  at::Tensor embed_texts(const std::vector<std::string>& texts);
  at::Tensor embed_image_queries(const std::vector<data::Image>& images);
  static at::Tensor pooled(const at::Tensor& query_embeds);
  // Retrieval scores (Ni, Nt) of image query embeddings (Ni, Q, E) against texts (Nt, E).
  at::Tensor similarity(const at::Tensor& image_queries, const at::Tensor& text_embeds);
  int64_t count_text_tokens(const std::string& text) const;

 private:
  struct Chat;
  struct Embedder;
  std::unique_ptr<Chat> chat_;
  std::unique_ptr<Embedder> embed_;
  Capabilities caps_;
};

}  // namespace vlm::serve
