// `vlm serve` before it is ready and at its edges: /health answers 503 (and model routes refuse
// with OpenAI's error object) from the moment the port is open until the model and the search
// index are loaded, then 200; http(s) image URLs are refused unless --allow-remote-images, and with
// it are fetched (from a loopback server in this test) with the downloader's checks, a fetched
// image giving the same greedy reply as the same bytes sent inline.
#include <gtest/gtest.h>

#include "e2e/download/http_server.h"
#include "serve/server.h"
#include "serve_fixture.h"

namespace vlm::test {
namespace {

class ServeStartup : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { models_ = new TinyModels(); }
  static void TearDownTestSuite() { delete models_; }
  void SetUp() override { ASSERT_TRUE(models_->error.empty()) << models_->error; }
  static TinyModels* models_;
};

TinyModels* ServeStartup::models_ = nullptr;

int status_of(httplib::Result r) { return r ? r->status : 0; }

// In-process, so that "still loading" is a state the test holds open rather than a race.
TEST_F(ServeStartup, HealthIs503UntilTheModelAndIndexAreLoadedThen200) {
  TempDir cache;
  serve::ServerOptions o;
  o.port = 0;
  o.model = models_->stage2;
  o.embed_model = models_->stage1;
  o.index = models_->data.eval_dir;
  o.index_cache = cache.path();
  serve::Server server(o);
  const int port = server.bind();
  server.start();
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60);

  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  EXPECT_EQ(json::parse(health->body)["status"], "loading");
  auto chat = c.Post("/v1/chat/completions", chat_body("", "hi", 2).dump(), "application/json");
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->status, 503);
  const json error = json::parse(chat->body)["error"];
  EXPECT_EQ(error["code"], "model_loading") << chat->body;
  EXPECT_EQ(error["type"], "server_error");
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("\nvlm_model_loaded 0"), std::string::npos) << metrics->body;

  server.load();
  health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body)["status"], "ok");
  EXPECT_EQ(status_of(c.Post("/v1/chat/completions", chat_body("", "hi", 2).dump(), "application/json")), 200);
  EXPECT_EQ(status_of(c.Post("/v1/search", json({{"query", "a red circle"}, {"top_k", 2}}).dump(),
                             "application/json")),
            200);
  server.stop();
}

TEST_F(ServeStartup, RemoteImagesAreFetchedOnlyWithAllowRemoteImages) {
  const std::string png = read_all(models_->image(4));
  HttpServer web([&](const std::string& path, int) {
    if (path == "/scene.png") return HttpServer::Response{200, "image/png", png};
    if (path == "/page.html") return HttpServer::Response{200, "text/html", "<html>not an image</html>"};
    if (path == "/big.png") return HttpServer::Response{200, "image/png", std::string(30 << 20, 'x')};
    return HttpServer::Response{404, "text/plain", "no such file"};
  });
  const std::string url_param = "messages[0].content[1].image_url.url";
  auto ask = [](const ServeProcess& s, const std::string& url) {
    return post_json(s, "/v1/chat/completions", chat_body(url, "What is in the picture?", 8).dump());
  };

  ServeProcess closed(models_->dir.path(), {"--model", models_->stage2});
  ASSERT_TRUE(closed.wait_ready()) << closed.log();
  const Reply refused = ask(closed, web.url("/scene.png"));
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.body["error"]["code"], "remote_images_disabled") << refused.body;
  EXPECT_NE(refused.body["error"]["message"].get<std::string>().find("--allow-remote-images"), std::string::npos);
  EXPECT_EQ(web.hits("/scene.png"), 0);  // refused before any connection
  EXPECT_EQ(closed.stop(), 0);

  ServeProcess open(models_->dir.path(), {"--model", models_->stage2, "--allow-remote-images"});
  ASSERT_TRUE(open.wait_ready()) << open.log();
  const Reply inline_reply = ask(open, data_url(models_->image(4)));
  const Reply fetched = ask(open, web.url("/scene.png"));
  ASSERT_EQ(inline_reply.status, 200) << inline_reply.body;
  ASSERT_EQ(fetched.status, 200) << fetched.body;
  EXPECT_EQ(web.hits("/scene.png"), 1);
  EXPECT_EQ(fetched.body["choices"][0]["message"]["content"], inline_reply.body["choices"][0]["message"]["content"]);
  EXPECT_EQ(fetched.body["usage"], inline_reply.body["usage"]);

  struct Case {
    std::string path, kind;
  };
  for (const Case& c : {Case{"/missing.png", "http_404"}, Case{"/page.html", "wrong_type"},
                        Case{"/big.png", "too_large"}}) {
    const Reply r = ask(open, web.url(c.path));
    EXPECT_EQ(r.status, 400) << c.path;
    EXPECT_EQ(r.body["error"]["code"], "remote_image_failed") << r.body;
    EXPECT_EQ(r.body["error"]["param"], url_param) << r.body;
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find(c.kind), std::string::npos) << r.body;
  }
  const Reply unreachable = ask(open, "http://127.0.0.1:1/x.png");  // nothing listens on port 1
  EXPECT_EQ(unreachable.status, 400);
  EXPECT_EQ(unreachable.body["error"]["code"], "remote_image_failed") << unreachable.body;
  EXPECT_EQ(status_of(open.client().Get("/health")), 200);
  EXPECT_EQ(open.stop(), 0);
}

}  // namespace
}  // namespace vlm::test
