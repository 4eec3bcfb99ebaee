// Batched cosine similarity for retrieval (eval/retrieval_torch.h): normalise, matmul per block
// of image rows, gather on the CPU. Shapes: Ni images, Nt texts, E embedding width.
#include "eval/retrieval_torch.h"

#include <torch/torch.h>

namespace vlm::eval {

at::Tensor similarity_matrix(const at::Tensor& image_embeds, const at::Tensor& text_embeds, int64_t batch) {
  TORCH_CHECK(image_embeds.dim() == 2 && text_embeds.dim() == 2, "similarity_matrix: expected 2-D embeddings, got ",
              image_embeds.sizes(), " and ", text_embeds.sizes());
  TORCH_CHECK(image_embeds.size(1) == text_embeds.size(1), "similarity_matrix: embedding widths differ: ",
              image_embeds.sizes(), " vs ", text_embeds.sizes());
  TORCH_CHECK(batch > 0, "similarity_matrix: batch must be positive");
  torch::NoGradGuard no_grad;
  namespace F = torch::nn::functional;
  const auto opts = F::NormalizeFuncOptions().p(2).dim(1).eps(1e-12);
  const at::Tensor text = F::normalize(text_embeds.to(torch::kFloat32), opts);  // (Nt, E)
  const int64_t ni = image_embeds.size(0);
  at::Tensor out = torch::empty({ni, text_embeds.size(0)}, torch::kFloat32);  // (Ni, Nt) on the CPU
  for (int64_t start = 0; start < ni; start += batch) {
    const int64_t end = std::min(ni, start + batch);
    const at::Tensor img = F::normalize(image_embeds.slice(0, start, end).to(torch::kFloat32), opts);  // (b, E)
    out.slice(0, start, end).copy_(torch::matmul(img, text.t()).cpu());                             // (b, Nt)
  }
  return out;
}

RetrievalMetrics compute_retrieval(const at::Tensor& similarity, std::span<const int64_t> text_to_image,
                                   std::span<const std::string> captions) {
  TORCH_CHECK(similarity.dim() == 2, "compute_retrieval: expected a (Ni, Nt) matrix, got ", similarity.sizes());
  const at::Tensor s = similarity.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const std::span<const float> values(s.data_ptr<float>(), static_cast<size_t>(s.numel()));
  return compute_retrieval(values, s.size(0), s.size(1), text_to_image, captions);
}

}  // namespace vlm::eval
