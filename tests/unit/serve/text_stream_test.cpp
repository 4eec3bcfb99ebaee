// Stream deltas (never half a UTF-8 character, stop strings held back and cut), base64 both ways
// and the Prometheus histogram lines of `vlm serve`.
#include <gtest/gtest.h>

#include "serve/api_error.h"
#include "serve/image_input.h"
#include "serve/metrics.h"
#include "serve/text_stream.h"

namespace vlm::serve {
namespace {

TEST(TextStream, HoldsBackUnfinishedUtf8AndReplacementCharacters) {
  EXPECT_EQ(utf8_clean_length("ab"), 2u);
  EXPECT_EQ(utf8_clean_length("a\xC3"), 1u);              // first byte of é
  EXPECT_EQ(utf8_clean_length("a\xC3\xA9"), 3u);          // é complete
  EXPECT_EQ(utf8_clean_length("a\xF0\x9F\x98"), 1u);      // 3 of an emoji's 4 bytes
  EXPECT_EQ(utf8_clean_length("a\xEF\xBF\xBD"), 1u);      // U+FFFD: a byte-level token not finished
  TextStream s;
  std::string all;
  for (const std::string text : {"caf", "caf\xC3", "caf\xC3\xA9", "caf\xC3\xA9 \xEF\xBF\xBD", "caf\xC3\xA9 \xF0\x9F\x98\x80"}) {
    const std::string d = s.update(text);
    EXPECT_EQ(utf8_clean_length(d), d.size()) << "a delta ended inside a character";
    all += d;
  }
  all += s.finish("caf\xC3\xA9 \xF0\x9F\x98\x80!");
  EXPECT_EQ(all, "caf\xC3\xA9 \xF0\x9F\x98\x80!");
}

TEST(TextStream, StopStringsAreHeldBackAndCut) {
  TextStream s({"END"});
  EXPECT_EQ(s.update("one E"), "one ");  // "E" may start "END"
  EXPECT_EQ(s.update("one EN"), "");
  EXPECT_EQ(s.update("one ENX"), "ENX");  // it did not
  EXPECT_EQ(s.update("one ENX twoEND three"), " two");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.finish("one ENX twoEND three four"), "");
  EXPECT_EQ(s.sent(), "one ENX two");
}

TEST(Base64, RoundTripsAndRefusesGarbageNamingTheField) {
  const std::string text = "any carnal pleas";
  for (size_t n = 0; n <= text.size(); ++n) {
    const std::string enc = base64_encode(reinterpret_cast<const uint8_t*>(text.data()), n);
    const auto dec = base64_decode(enc, "x");
    EXPECT_EQ(std::string(dec.begin(), dec.end()), text.substr(0, n)) << enc;
  }
  EXPECT_EQ(base64_encode(reinterpret_cast<const uint8_t*>("Man"), 3), "TWFu");
  try {
    base64_decode("TW@u", "messages[0].content[1].image_url.url");
    FAIL() << "no error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.to_json()["error"]["param"], "messages[0].content[1].image_url.url");
    EXPECT_EQ(e.to_json()["error"]["code"], "invalid_base64");
  }
  EXPECT_THROW(base64_decode("TWFuT", "x"), ApiError);  // one char past a full group
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics m;
  m.observe_ttft(0.003);
  m.observe_ttft(0.2);
  m.observe_ttft(100);
  m.count_request("/v1/models", 200);
  m.count_request("/v1/models", 200);
  m.add_gauge("vlm_busy_slots", "slots", [] { return 3.0; });
  const std::string text = m.render();
  EXPECT_NE(text.find("vlm_time_to_first_token_seconds_bucket{le=\"0.005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vlm_time_to_first_token_seconds_bucket{le=\"0.25\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vlm_time_to_first_token_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vlm_time_to_first_token_seconds_count 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vlm_requests_total{endpoint=\"/v1/models\",status=\"200\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE vlm_busy_slots gauge\nvlm_busy_slots 3\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace vlm::serve
