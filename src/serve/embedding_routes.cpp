// POST /v1/embeddings (texts and images into the stage-1 space, OpenAI's list of embedding
// objects, float or base64 little-endian float32), POST /v1/search over --index, and
// GET /v1/index/images/N for the page's result grid.
// Shape letters: N inputs, Q queries, E embedding width.
#include <torch/torch.h>

#include <chrono>
#include <cstring>

#include "core/error.h"
#include "data/image.h"
#include "serve/server_impl.h"

namespace vlm::serve {
namespace {

using json = nlohmann::json;

struct EmbeddingInput {
  bool image = false;
  std::string text;   // the text, or the image URL
  std::string param;  // "input[3]"
};

std::vector<EmbeddingInput> parse_inputs(const json& body) {
  if (!body.is_object() || !body.contains("input")) {
    throw ApiError(400, "'input' is required: a string, or an array of strings and image_url parts", "input",
                   "missing_required_parameter");
  }
  const json& input = body["input"];
  std::vector<EmbeddingInput> out;
  auto one = [&](const json& v, const std::string& param) {
    if (v.is_string()) {
      out.push_back({false, v.get<std::string>(), param});
      return;
    }
    if (v.is_object() && v.value("type", "") == "text" && v.contains("text") && v["text"].is_string()) {
      out.push_back({false, v["text"].get<std::string>(), param + ".text"});
      return;
    }
    if (v.is_object() && v.contains("image_url")) {
      const json& iu = v["image_url"];
      const json url = iu.is_string() ? iu : (iu.is_object() && iu.contains("url") ? iu["url"] : json());
      if (url.is_string()) {
        out.push_back({true, url.get<std::string>(), param + ".image_url.url"});
        return;
      }
    }
    throw ApiError(400, "each input must be a string, {\"type\": \"text\", \"text\": ...} or {\"type\": \"image_url\", "
                        "\"image_url\": {\"url\": ...}} (token arrays are not supported)",
                   param, "invalid_type");
  };
  if (input.is_array()) {
    if (input.empty()) throw ApiError(400, "'input' is an empty array", "input", "invalid_value");
    for (size_t i = 0; i < input.size(); ++i) one(input[i], str("input[", i, "]"));
  } else {
    one(input, "input");
  }
  for (const auto& x : out) {
    if (!x.image && x.text.empty()) throw ApiError(400, "an input text is empty", x.param, "invalid_value");
  }
  return out;
}

std::string image_type(const std::vector<uint8_t>& bytes) {
  try {
    return "image/" + data::probe_image(bytes, "index image").format;
  } catch (const std::exception&) {
    return "application/octet-stream";
  }
}

}  // namespace

void Server::Impl::add_embedding_routes() {
  http.Post("/v1/embeddings", guarded([this](const httplib::Request& req, httplib::Response& res) {
    const auto arrived = std::chrono::steady_clock::now();
    if (!host->capabilities().embeddings) {
      throw ApiError(400, "this model has no stage-1 Q-Former with a tokenizer: start the server with --embed-model STAGE1_RUN",
                     "model", "embeddings_not_supported");
    }
    const json body = parse_body(req);
    const auto inputs = parse_inputs(body);
    const std::string format = body.contains("encoding_format") && body["encoding_format"].is_string()
                                   ? body["encoding_format"].get<std::string>()
                                   : "float";
    if (format != "float" && format != "base64") {
      throw ApiError(400, "'encoding_format' must be 'float' or 'base64'", "encoding_format", "invalid_value");
    }
    const int64_t dim = host->capabilities().embedding_dim;
    if (body.contains("dimensions") && !body["dimensions"].is_null() &&
        !(body["dimensions"].is_number_integer() && body["dimensions"].get<int64_t>() == dim)) {
      throw ApiError(400, str("this model's embeddings have ", dim, " dimensions"), "dimensions", "invalid_value");
    }
    if (static_cast<int64_t>(inputs.size()) > options.max_embedding_inputs) {
      throw ApiError(400, str(inputs.size(), " inputs; the limit is ", options.max_embedding_inputs), "input",
                     "too_many_inputs");
    }
    std::vector<std::string> texts;
    std::vector<data::Image> images;
    int64_t tokens = 0;
    for (const auto& x : inputs) {
      if (!x.image) {
        texts.push_back(x.text);
        tokens += host->count_text_tokens(x.text);
      }
    }
    const int64_t n_images = static_cast<int64_t>(inputs.size() - texts.size());
    if (n_images > options.max_images) {
      throw ApiError(400, str("the request holds ", n_images, " images; the limit is ", options.max_images, " (--max-images)"),
                     "input", "too_many_images");
    }
    for (const auto& x : inputs) {
      if (x.image) images.push_back(load_image_url(x.text, x.param, options.images));
    }
    const at::Tensor text_e = texts.empty() ? at::Tensor() : host->embed_texts(texts).contiguous();  // (Nt, E)
    const at::Tensor image_e = images.empty() ? at::Tensor()
                                              : ModelHost::pooled(host->embed_image_queries(images)).contiguous();  // (Ni, E)
    json data = json::array();
    int64_t ti = 0, ii = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const at::Tensor row = inputs[i].image ? image_e[ii++] : text_e[ti++];  // (E)
      const float* v = row.data_ptr<float>();
      json embedding;
      if (format == "base64") {
        embedding = base64_encode(reinterpret_cast<const uint8_t*>(v), static_cast<size_t>(dim) * sizeof(float));
      } else {
        embedding = std::vector<float>(v, v + dim);
      }
      data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", embedding}});
    }
    tokens += n_images * host->capabilities().image_tokens;
    reply(res, 200, {{"object", "list"}, {"data", data}, {"model", model_name},
                     {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
    metrics.observe_latency("/v1/embeddings",
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - arrived).count());
  }));

  http.Post("/v1/search", guarded([this](const httplib::Request& req, httplib::Response& res) {
    if (!index) throw ApiError(400, "no index: start the server with --index DIR_OR_DATASET", "", "no_index");
    const json body = parse_body(req);
    int64_t top_k = 8;
    if (body.contains("top_k")) {
      if (!body["top_k"].is_number_integer() || body["top_k"].get<int64_t>() < 1 || body["top_k"].get<int64_t>() > 100) {
        throw ApiError(400, "'top_k' must be an integer in [1, 100]", "top_k", "invalid_value");
      }
      top_k = body["top_k"].get<int64_t>();
    }
    const bool by_text = body.contains("query") && body["query"].is_string() && !body["query"].get<std::string>().empty();
    const bool by_image = body.contains("image_url");
    if (by_text == by_image) {
      throw ApiError(400, "give either 'query' (a text: top images) or 'image_url' (an image: top texts)", "query",
                     "invalid_value");
    }
    json results = json::array();
    if (by_text) {
      const at::Tensor q = host->embed_texts({body["query"].get<std::string>()});       // (1, E)
      const at::Tensor scores = host->similarity(index->image_queries(), q).select(1, 0);  // (N)
      const auto [values, order] = scores.topk(std::min<int64_t>(top_k, scores.size(0)));
      for (int64_t k = 0; k < values.size(0); ++k) {
        const int64_t i = order[k].item<int64_t>();
        const auto& e = index->entries()[static_cast<size_t>(i)];
        results.push_back({{"index", i}, {"score", values[k].item<double>()}, {"key", e.key}, {"caption", e.caption},
                           {"image_url", str("/v1/index/images/", i)}});
      }
    } else {
      const json& iu = body["image_url"];
      const json url = iu.is_string() ? iu : (iu.is_object() && iu.contains("url") ? iu["url"] : json());
      if (!url.is_string()) throw ApiError(400, "'image_url' must be a URL string or {\"url\": ...}", "image_url", "invalid_type");
      const auto image = load_image_url(url.get<std::string>(), "image_url", options.images);
      if (index->text_embeds().size(0) == 0) throw ApiError(400, "the index has no captions to rank", "image_url", "no_texts");
      const at::Tensor scores = host->similarity(host->embed_image_queries({image}), index->text_embeds()).select(0, 0);  // (Nt)
      const auto [values, order] = scores.topk(std::min<int64_t>(top_k, scores.size(0)));
      for (int64_t k = 0; k < values.size(0); ++k) {
        const int64_t i = index->text_entry()[static_cast<size_t>(order[k].item<int64_t>())];
        const auto& e = index->entries()[static_cast<size_t>(i)];
        results.push_back({{"index", i}, {"score", values[k].item<double>()}, {"key", e.key}, {"text", e.caption},
                           {"image_url", str("/v1/index/images/", i)}});
      }
    }
    reply(res, 200, {{"object", "list"}, {"data", results}, {"model", model_name}});
  }));

  http.Get(R"(/v1/index/images/(\d{1,9}))", guarded([this](const httplib::Request& req, httplib::Response& res) {
    const int64_t i = std::stoll(req.matches[1].str());
    if (!index || i >= index->size()) throw ApiError(404, "no such index image", "", "not_found");
    const auto bytes = index->image_bytes(i);
    res.set_content(std::string(bytes.begin(), bytes.end()), image_type(bytes));
  }));
}

}  // namespace vlm::serve
