// A small HTTP/1.1 server for the downloader tests: 127.0.0.1 on an ephemeral port, one thread per
// connection, one request per connection (Connection: close). Routes are a function of the path;
// every loop is bounded in count and time, and the destructor stops and joins everything.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vlm::test {

class HttpServer {
 public:
  struct Response {
    int status = 200;
    std::string content_type = "image/jpeg";
    std::string body;
    std::string location;            // for 3xx
    bool send_length = true;         // false: body until the connection closes
    double delay_s = 0;              // wait before answering (slow endpoints)
  };
  using Route = std::function<Response(const std::string& path, int hit)>;

  explicit HttpServer(Route route) : route_(std::move(route)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 128) != 0) std::abort();
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~HttpServer() {
    stop_ = true;
    acceptor_.join();  // no new workers after this
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      workers.swap(workers_);
    }
    for (auto& t : workers) t.join();
    ::close(fd_);
  }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  int hits(const std::string& path) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = hits_.find(path);
    return it == hits_.end() ? 0 : it->second;
  }

 private:
  void accept_loop() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    int accepted = 0;
    while (!stop_ && std::chrono::steady_clock::now() < deadline && accepted < 10000) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) continue;
      ++accepted;
      std::lock_guard<std::mutex> lock(mutex_);
      workers_.emplace_back([this, client] {
        serve(client);
        ::close(client);
      });
    }
  }

  static void send_all(int fd, const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;  // the client hung up (size cap, timeout): fine
      sent += static_cast<size_t>(n);
    }
  }

  void serve(int fd) {
    std::string request;
    char buf[2048];
    for (int i = 0; i < 100 && request.find("\r\n\r\n") == std::string::npos && request.size() < 16384; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<size_t>(n));
    }
    const size_t sp1 = request.find(' '), sp2 = request.find(' ', sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos) return;
    const std::string path = request.substr(sp1 + 1, sp2 - sp1 - 1);
    int hit = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      hit = ++hits_[path];
    }
    const Response r = route_(path, hit);
    for (double waited = 0; waited < r.delay_s && !stop_; waited += 0.05)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::string head = "HTTP/1.1 " + std::to_string(r.status) + (r.status < 300 ? " OK" : r.status < 400 ? " Found" : " Error") +
                       "\r\nContent-Type: " + r.content_type + "\r\nConnection: close\r\n";
    if (!r.location.empty()) head += "Location: " + r.location + "\r\n";
    if (r.send_length) head += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    send_all(fd, head + "\r\n");
    send_all(fd, r.body);
  }

  Route route_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::map<std::string, int> hits_;
};

}  // namespace vlm::test
