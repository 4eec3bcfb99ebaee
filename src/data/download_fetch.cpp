// The downloader's network side on libcurl's multi interface: many transfers at once on one
// thread, http/https only (redirects too, and limited in number), connect and total timeouts, a
// size cap enforced while receiving, a content-type check on the first bytes, and retries with
// exponential backoff for transient failures only (timeouts, connection errors, 5xx, 429).
#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>

#include "core/error.h"
#include "data/download_internal.h"

namespace vlm::data {
namespace {

using Clock = std::chrono::steady_clock;

struct Transfer {
  size_t index = 0;
  int attempt = 0;
  CURL* easy = nullptr;
  std::vector<uint8_t> body;
  bool checked_type = false;
  bool wrong_type = false;
  bool too_large = false;
  int64_t max_bytes = 0;
  std::string content_type;
  char errbuf[CURL_ERROR_SIZE] = {0};
};

bool acceptable_type(const std::string& type) {
  std::string t = type;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return t.rfind("image/", 0) == 0 || t.rfind("application/octet-stream", 0) == 0 ||
         t.rfind("binary/octet-stream", 0) == 0;
}

size_t on_data(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (!t->checked_type) {
    t->checked_type = true;
    long status = 0;
    char* type = nullptr;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &type);
    if (type != nullptr) t->content_type = type;
    if (status >= 200 && status < 300 && type != nullptr && !acceptable_type(type)) {
      t->wrong_type = true;
      return 0;  // abort: no need to fetch an HTML page
    }
  }
  if (static_cast<int64_t>(t->body.size() + n) > t->max_bytes) {
    t->too_large = true;
    return 0;
  }
  t->body.insert(t->body.end(), reinterpret_cast<uint8_t*>(data), reinterpret_cast<uint8_t*>(data) + n);
  return n;
}

struct Outcome {
  std::string kind;
  bool transient = false;
};

Outcome classify(const Transfer& t, CURLcode code, long status) {
  if (t.too_large || code == CURLE_FILESIZE_EXCEEDED) return {"too_large", false};
  if (t.wrong_type) return {"wrong_type", false};
  switch (code) {
    case CURLE_OK:
      break;
    case CURLE_OPERATION_TIMEDOUT:
      return {"timeout", true};
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      return {"connection", true};
    case CURLE_TOO_MANY_REDIRECTS:
      return {"too_many_redirects", false};
    case CURLE_UNSUPPORTED_PROTOCOL:
      return {"unsupported_protocol", false};
    case CURLE_PEER_FAILED_VERIFICATION:
      return {"tls", false};
    case CURLE_URL_MALFORMAT:
      return {"bad_url", false};
    default:
      return {"other", false};
  }
  if (status >= 200 && status < 300) return {t.body.empty() ? "empty" : "", false};
  return {str("http_", status), status >= 500 || status == 429 || status == 408};
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("libcurl could not be initialised");
  });
}

}  // namespace

void fetch_all(const std::vector<std::string>& urls, const DownloadOptions& options,
               const std::function<void(size_t, FetchResult&&)>& on_done) {
  init_curl_once();
  std::unique_ptr<CURLM, decltype(&curl_multi_cleanup)> multi(curl_multi_init(), curl_multi_cleanup);
  if (!multi) throw Error("libcurl: cannot create a multi handle");
  curl_multi_setopt(multi.get(), CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(options.concurrency));

  std::deque<std::pair<size_t, int>> ready;  // (index, attempt) to start now
  for (size_t i = 0; i < urls.size(); ++i) ready.emplace_back(i, 0);
  using Retry = std::pair<Clock::time_point, std::pair<size_t, int>>;
  std::priority_queue<Retry, std::vector<Retry>, std::greater<>> retries;
  std::vector<std::unique_ptr<Transfer>> active;

  auto start = [&](size_t index, int attempt) {
    auto t = std::make_unique<Transfer>();
    t->index = index;
    t->attempt = attempt;
    t->max_bytes = options.max_bytes;
    t->easy = curl_easy_init();
    if (t->easy == nullptr) throw Error("libcurl: cannot create a transfer");
    CURL* e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, urls[index].c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_bytes));
    curl_easy_setopt(e, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, static_cast<void*>(t.get()));
    curl_multi_add_handle(multi.get(), e);
    active.push_back(std::move(t));
  };

  while (!ready.empty() || !retries.empty() || !active.empty()) {
    const auto now = Clock::now();
    while (!retries.empty() && retries.top().first <= now) {
      ready.push_back(retries.top().second);
      retries.pop();
    }
    while (!ready.empty() && static_cast<int>(active.size()) < options.concurrency) {
      start(ready.front().first, ready.front().second);
      ready.pop_front();
    }
    if (active.empty()) {  // only backoffs pending
      std::this_thread::sleep_until(std::min(retries.top().first, Clock::now() + std::chrono::milliseconds(200)));
      continue;
    }
    int running = 0;
    curl_multi_perform(multi.get(), &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi.get(), &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      char* raw = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &raw);
      auto* t = reinterpret_cast<Transfer*>(raw);
      long status = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      const CURLcode code = msg->data.result;
      const Outcome outcome = classify(*t, code, status);
      curl_multi_remove_handle(multi.get(), t->easy);
      curl_easy_cleanup(t->easy);
      t->easy = nullptr;
      const auto it = std::find_if(active.begin(), active.end(), [t](const auto& p) { return p.get() == t; });
      std::unique_ptr<Transfer> owned = std::move(*it);
      active.erase(it);
      if (outcome.transient && owned->attempt < options.retries) {
        const double delay = options.backoff_s * static_cast<double>(1 << std::min(owned->attempt, 16));
        retries.push({Clock::now() + std::chrono::microseconds(static_cast<int64_t>(delay * 1e6)),
                      {owned->index, owned->attempt + 1}});
        continue;
      }
      FetchResult result;
      result.kind = outcome.kind;
      result.attempts = owned->attempt + 1;
      result.http_status = status;
      if (outcome.kind.empty()) {
        result.body = std::move(owned->body);
      } else {
        result.message = owned->errbuf[0] != '\0' ? std::string(owned->errbuf)
                         : status != 0            ? str("HTTP ", status)
                                                  : curl_easy_strerror(code);
        if (outcome.kind == "wrong_type") result.message = "content type " + owned->content_type;
      }
      on_done(owned->index, std::move(result));
    }
    if (!active.empty()) curl_multi_poll(multi.get(), nullptr, 0, 100, nullptr);
  }
}

std::vector<uint8_t> fetch_url(const std::string& url, const DownloadOptions& options) {
  FetchResult out;
  fetch_all({url}, options, [&out](size_t, FetchResult&& r) { out = std::move(r); });
  if (!out.kind.empty()) throw FileError(url, str("could not be fetched (", out.kind, "): ", out.message));
  return std::move(out.body);
}

}  // namespace vlm::data
