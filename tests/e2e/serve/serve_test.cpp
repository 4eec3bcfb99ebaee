// `vlm serve` over HTTP with a tiny model trained by the test: greedy chat replies equal
// `vlm caption`'s, alone and with 8 other requests in flight (the decode steps show they were
// batched); streaming chunks in OpenAI's order; embeddings and search; every refusal with its
// status and error object while the server stays healthy; 429 past the queue; a disconnected
// client frees its slot; SIGTERM drains a request in flight and exits 0.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <future>

#include "data/image.h"
#include "serve_fixture.h"

namespace fs = std::filesystem;

namespace vlm::test {
namespace {

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    models_ = new TinyModels();
    if (!models_->error.empty()) return;
    media_ = models_->dir.path() + "/media";
    fs::create_directories(media_);
    fs::copy_file(models_->image(0), media_ + "/inside.png", fs::copy_options::overwrite_existing);
    fs::remove(media_ + "/escape.png");
    fs::create_symlink(models_->image(1), media_ + "/escape.png");  // points out of the media dir
    server_ = new ServeProcess(models_->dir.path(),
                               {"--model", models_->stage2, "--embed-model", models_->stage1, "--parallel", "4",
                                "--max-queue", "32", "--index", models_->data.eval_dir, "--index-cache",
                                models_->dir.path() + "/index-cache", "--media-dir", media_, "--max-image-pixels",
                                "2000", "--max-body-bytes", "200000", "--max-images", "2"});
    ready_ = server_->wait_ready();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete models_;
  }
  void SetUp() override {
    ASSERT_TRUE(models_->error.empty()) << models_->error;
    ASSERT_TRUE(ready_) << server_->log();
  }

  static std::string caption(int image, const std::string& prompt = "") {
    const auto r = run_vlm("caption --model " + models_->stage2 + " " + models_->image(image) +
                               (prompt.empty() ? "" : " --prompt '" + prompt + "'") + " --max-new-tokens 12",
                           /*merge_stderr=*/false);
    EXPECT_EQ(r.status, 0) << r.output;
    std::string text = r.output;
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }
  static std::string metric(const std::string& name) {
    auto r = server_->client().Get("/metrics");
    const std::regex line("\n" + name + " ([0-9.e+]+)");
    std::smatch m;
    return r && std::regex_search(r->body, m, line) ? m[1].str() : "";
  }

  static TinyModels* models_;
  static ServeProcess* server_;
  static std::string media_;
  static bool ready_;
};

TinyModels* Serve::models_ = nullptr;
ServeProcess* Serve::server_ = nullptr;
std::string Serve::media_;
bool Serve::ready_ = false;

TEST_F(Serve, ModelsHealthAndMetrics) {
  auto health = server_->client().Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto models = server_->client().Get("/v1/models");
  ASSERT_TRUE(models);
  const json m = json::parse(models->body)["data"][0];
  EXPECT_EQ(m["id"], "s2");
  EXPECT_TRUE(m["capabilities"]["chat"].get<bool>());
  EXPECT_TRUE(m["capabilities"]["vision"].get<bool>());
  EXPECT_TRUE(m["capabilities"]["embeddings"].get<bool>());
  EXPECT_TRUE(m["capabilities"]["search"].get<bool>());
  EXPECT_EQ(m["index_size"], 8);
  auto page = server_->client().Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("<title>vlm serve</title>"), std::string::npos);
  EXPECT_EQ(page->body.find("http"), page->body.find("http-equiv"));  // nothing fetched from elsewhere
  auto metrics = server_->client().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("vlm_requests_total{endpoint=\"/v1/models\",status=\"200\"}"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("# TYPE vlm_time_to_first_token_seconds histogram"), std::string::npos);
  EXPECT_NE(metrics->body.find("vlm_busy_slots "), std::string::npos);
}

TEST_F(Serve, GreedyChatEqualsVlmCaptionWholeAndStreamed) {
  const std::string expected = caption(2);
  ASSERT_FALSE(expected.empty());
  const Reply r = post_json(*server_, "/v1/chat/completions", chat_body(data_url(models_->image(2)), "", 12).dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["object"], "chat.completion");
  EXPECT_EQ(r.body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], expected);
  const std::string reason = r.body["choices"][0]["finish_reason"];
  EXPECT_TRUE(reason == "stop" || reason == "length") << reason;
  const json& usage = r.body["usage"];
  EXPECT_GT(usage["prompt_tokens"].get<int>(), 4);  // 4 image tokens + the prompt
  EXPECT_EQ(usage["total_tokens"].get<int>(), usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());

  json body = chat_body(data_url(models_->image(2)), "", 12, /*stream=*/true);
  body["stream_options"] = {{"include_usage", true}};
  const StreamReply s = post_stream(*server_, body);
  ASSERT_EQ(s.status, 200);
  EXPECT_TRUE(s.done) << s.raw;
  EXPECT_EQ(s.text, expected);
  ASSERT_GE(s.chunks.size(), 3u) << s.raw;
  EXPECT_EQ(s.chunks.front()["choices"][0]["delta"]["role"], "assistant");
  for (const auto& c : s.chunks) EXPECT_EQ(c["object"], "chat.completion.chunk");
  const json& finish = s.chunks[s.chunks.size() - 2];
  EXPECT_EQ(finish["choices"][0]["finish_reason"], reason);
  EXPECT_TRUE(s.chunks.back()["choices"].empty());
  EXPECT_EQ(s.chunks.back()["usage"], usage);
}

TEST_F(Serve, GreedyReplyIsTheSameWithEightOtherRequestsInFlight) {
  const std::string question = "What shape is the red object?";
  const std::string expected = caption(3, question);
  const double steps_before = std::stod(metric("vlm_decode_steps_total"));
  const double tokens_before = std::stod(metric("vlm_generated_tokens_total"));
  std::vector<std::future<StreamReply>> others;
  for (int i = 0; i < 8; ++i) {
    json body = chat_body(data_url(models_->image(i % 8)), i % 2 ? "Describe this picture." : "", 12, true);
    body["temperature"] = 1.0;  // sampled rows beside the greedy one
    body["seed"] = i;
    others.push_back(std::async(std::launch::async, [body] { return post_stream(*server_, body); }));
  }
  std::vector<std::future<Reply>> mine;
  for (int k = 0; k < 3; ++k) {
    mine.push_back(std::async(std::launch::async, [&] {
      return post_json(*server_, "/v1/chat/completions", chat_body(data_url(models_->image(3)), question, 12).dump());
    }));
  }
  for (auto& f : mine) {
    const Reply r = f.get();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body["choices"][0]["message"]["content"], expected);
  }
  for (auto& f : others) {
    const StreamReply s = f.get();
    EXPECT_EQ(s.status, 200);
    EXPECT_TRUE(s.done);
  }
  // Rows shared decode steps: more tokens than steps.
  const double steps = std::stod(metric("vlm_decode_steps_total")) - steps_before;
  const double tokens = std::stod(metric("vlm_generated_tokens_total")) - tokens_before;
  EXPECT_GT(tokens, 1.5 * steps) << tokens << " tokens in " << steps << " steps";
}

TEST_F(Serve, EmbeddingsAreNormalisedInOpenAIsShape) {
  json body = {{"model", "tiny"},
               {"input", json::array({"a red circle", {{"type", "image_url"}, {"image_url", {{"url", data_url(models_->image(0))}}}}})}};
  const Reply r = post_json(*server_, "/v1/embeddings", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["object"], "list");
  ASSERT_EQ(r.body["data"].size(), 2u);
  std::vector<float> first;
  for (const auto& d : r.body["data"]) {
    EXPECT_EQ(d["object"], "embedding");
    double norm = 0;
    for (const auto& v : d["embedding"]) norm += v.get<double>() * v.get<double>();
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-5);
  }
  first = r.body["data"][0]["embedding"].get<std::vector<float>>();
  body["encoding_format"] = "base64";
  body["input"] = "a red circle";
  const Reply b = post_json(*server_, "/v1/embeddings", body.dump());
  ASSERT_EQ(b.status, 200) << b.body;
  const std::string packed = b.body["data"][0]["embedding"];
  EXPECT_EQ(packed.size(), (first.size() * 4 + 2) / 3 * 4);
}

TEST_F(Serve, SearchFindsIndexImagesByTextAndTextsByImage) {
  const Reply r = post_json(*server_, "/v1/search", json({{"query", "a red circle"}, {"top_k", 3}}).dump());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["data"].size(), 3u);
  EXPECT_GE(r.body["data"][0]["score"].get<double>(), r.body["data"][2]["score"].get<double>());
  auto image = server_->client().Get(r.body["data"][0]["image_url"].get<std::string>().c_str());
  ASSERT_TRUE(image);
  EXPECT_EQ(image->status, 200);
  EXPECT_EQ(image->get_header_value("Content-Type"), "image/png");
  const Reply t = post_json(*server_, "/v1/search", json({{"image_url", data_url(models_->image(1))}, {"top_k", 2}}).dump());
  ASSERT_EQ(t.status, 200) << t.body;
  ASSERT_EQ(t.body["data"].size(), 2u);
  EXPECT_FALSE(t.body["data"][0]["text"].get<std::string>().empty());
  EXPECT_FALSE(fs::is_empty(models_->dir.path() + "/index-cache"));  // embedded once, cached
}

struct ErrorCase {
  std::string name, body;
  int status;
  std::string param, code;
};

TEST_F(Serve, EveryRefusalHasItsStatusAndErrorObjectAndTheServerStaysHealthy) {
  const std::string ok_image = data_url(models_->image(0));
  auto with = [&](const std::string& url, const std::string& prompt = "hi") { return chat_body(url, prompt, 4).dump(); };
  const std::string big_png = [&] {  // 64 x 64 = 4096 pixels, over --max-image-pixels 2000
    const std::string p = models_->dir.path() + "/big.png";
    data::Image img(64, 64);
    data::write_png(p, img);
    return data_url(p);
  }();
  json two_images = chat_body(ok_image, "hi", 4);
  two_images["messages"][0]["content"].push_back({{"type", "image_url"}, {"image_url", {{"url", ok_image}}}});
  two_images["messages"][0]["content"].push_back({{"type", "image_url"}, {"image_url", {{"url", ok_image}}}});
  const std::vector<ErrorCase> cases = {
      {"bad json", "{\"messages\": [", 400, "", "invalid_json"},
      {"no messages", "{\"model\": \"x\"}", 400, "messages", "missing_required_parameter"},
      {"bad base64", with("data:image/png;base64,@@@@"), 400, "messages[0].content[1].image_url.url", "invalid_base64"},
      {"raw base64 not an image", with("aGVsbG8gd29ybGQ="), 400, "messages[0].content[1].image_url.url", "invalid_image"},
      {"too many pixels", with(big_png), 400, "messages[0].content[1].image_url.url", "image_too_large"},
      {"too many images", two_images.dump(), 400, "messages", "too_many_images"},
      {"context", json({{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 100000}}).dump(), 400,
       "max_tokens", "context_length_exceeded"},
      {"file outside", with("file:///etc/passwd"), 400, "messages[0].content[1].image_url.url", "path_outside_media_dir"},
      {"file dotdot", with("file://" + media_ + "/../s1.yaml"), 400, "messages[0].content[1].image_url.url",
       "path_outside_media_dir"},
      {"file symlink out", with("file://" + media_ + "/escape.png"), 400, "messages[0].content[1].image_url.url",
       "path_outside_media_dir"},
      {"remote", with("https://example.com/a.png"), 400, "messages[0].content[1].image_url.url", "remote_images_disabled"},
      {"n", json({{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"n", 2}}).dump(), 400, "n", "invalid_value"},
      {"role", json({{"messages", {{{"role", "tool"}, {"content", "hi"}}}}}).dump(), 400, "messages[0].role",
       "invalid_value"},
      {"temperature", json({{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"temperature", "hot"}}).dump(), 400,
       "temperature", "invalid_type"},
      {"body too large", std::string(300000, ' '), 413, "", "request_too_large"},
      {"embeddings tokens", json({{"input", {1, 2, 3}}}).dump(), 400, "input[0]", "invalid_type"},
  };
  for (const auto& c : cases) {
    const std::string path = c.name == "embeddings tokens" ? "/v1/embeddings" : "/v1/chat/completions";
    const Reply r = post_json(*server_, path, c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    ASSERT_TRUE(r.body.is_object() && r.body.contains("error")) << c.name << ": " << r.body;
    const json& e = r.body["error"];
    EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << c.name;
    EXPECT_TRUE(e.contains("type") && e.contains("param") && e.contains("code")) << c.name;
    EXPECT_EQ(e["param"].is_null() ? "" : e["param"].get<std::string>(), c.param) << c.name << ": " << r.body;
    EXPECT_EQ(e["code"], c.code) << c.name << ": " << r.body;
  }
  // The context refusal says the numbers.
  const Reply ctx = post_json(*server_, "/v1/chat/completions", cases[6].body);
  EXPECT_NE(ctx.body["error"]["message"].get<std::string>().find("512"), std::string::npos) << ctx.body;
  auto missing = server_->client().Get("/v1/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(json::parse(missing->body)["error"]["code"], "not_found");
  // A file under --media-dir is fine, and the server still answers.
  const Reply inside = post_json(*server_, "/v1/chat/completions", with("file://" + media_ + "/inside.png", ""));
  EXPECT_EQ(inside.status, 200) << inside.body;
  auto health = server_->client().Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// A second server with one slot and no queue: 429 while it is busy, a client that goes away frees
// the slot, the API key is asked for, SIGTERM lets the request in flight finish.
TEST_F(Serve, QueueLimitDisconnectApiKeyAndDrain) {
  ServeProcess one(models_->dir.path(), {"--model", models_->stage2, "--parallel", "1", "--max-queue", "0",
                                         "--api-key", "sesame"});
  ASSERT_TRUE(one.wait_ready()) << one.log();
  const httplib::Headers key = {{"Authorization", "Bearer sesame"}};
  EXPECT_EQ(post_json(one, "/v1/chat/completions", chat_body("", "hi", 4).dump()).status, 401);
  EXPECT_EQ(post_json(one, "/v1/chat/completions", chat_body("", "hi", 4).dump(), {{"Authorization", "Bearer x"}}).status, 401);
  EXPECT_EQ(one.client().Get("/health")->status, 200);  // health needs no key

  // A long streamed request holds the only slot.
  httplib::Client c = one.client();
  std::promise<void> started;
  auto first_chunk = started.get_future();
  std::atomic<bool> hang_up{false};
  std::string first_text;
  auto long_request = std::async(std::launch::async, [&] {
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.headers = key;
    req.set_header("Content-Type", "application/json");
    json body = chat_body("", "hi", 400, true);
    body["min_tokens"] = 400;  // no early end: the slot stays taken until the client hangs up
    req.body = body.dump();
    bool told = false;
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
      if (!told) {
        first_text.assign(d, n);
        told = true;
        started.set_value();
      }
      return !hang_up.load();
    };
    return c.send(req);
  });
  ASSERT_EQ(first_chunk.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  const Reply busy = post_json(one, "/v1/chat/completions", chat_body("", "hi", 4).dump(), key);
  EXPECT_EQ(busy.status, 429) << busy.body << "\nthe long request's first bytes: " << first_text;
  EXPECT_EQ(busy.body["error"]["type"], "rate_limit_error");
  hang_up = true;
  long_request.wait();
  // The slot is free again within a few steps.
  Reply after;
  for (int i = 0; i < 100; ++i) {
    after = post_json(one, "/v1/chat/completions", chat_body("", "hi", 4).dump(), key);
    if (after.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(after.status, 200) << after.body;

  // SIGTERM with a request streaming: it completes, then the server exits 0.
  std::promise<void> streaming;
  auto streaming_now = streaming.get_future();
  auto in_flight = std::async(std::launch::async, [&] {
    bool told = false;
    return post_stream(one, chat_body("", "hi", 60, true), 0, key, [&] {
      if (!told) streaming.set_value();
      told = true;
    });
  });
  ASSERT_EQ(streaming_now.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(one.stop(), 0) << one.log();
  const StreamReply drained = in_flight.get();
  EXPECT_EQ(drained.status, 200);
  EXPECT_TRUE(drained.done) << drained.raw;
}

}  // namespace
}  // namespace vlm::test
