// etcd::client against a fake etcd (a loopback HTTP server in the test): the
// endpoint failover, watch lines delivered as they arrive (also when a line is
// split across chunks), the end of a stream, a server that never answers, and
// a destructor that does not wait for an open watch.
#include "cluster/etcd_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace etcd = tern::cluster::etcd;
using namespace std::chrono_literals;

namespace {

// Accepts connections one at a time and hands each request to `handler`.
class fake_etcd {
 public:
  using handler_fn = std::function<void(int fd, const std::string& path, const std::string& body)>;

  explicit fake_etcd(handler_fn h) : handler_(std::move(h)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~fake_etcd() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

  static void write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += size_t(n);
    }
  }
  static void reply(int fd, const std::string& body) {
    write_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  }
  static void chunk(int fd, const std::string& data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    write_all(fd, size + data + "\r\n");
  }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      size_t head_end;
      while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, size_t(n));
      }
      if (head_end == std::string::npos) {
        ::close(c);
        continue;
      }
      size_t cl_pos = in.find("Content-Length: ");
      size_t length = cl_pos == std::string::npos ? 0 : std::stoul(in.substr(cl_pos + 16));
      while (in.size() < head_end + 4 + length) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, size_t(n));
      }
      std::string path = in.substr(5, in.find(' ', 5) - 5);  // "POST /v3/..."
      ++requests_;
      handler_(c, path, in.substr(head_end + 4, length));
      ::close(c);
    }
  }

  handler_fn handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// Collects deliveries; wait_for(n) waits until n have arrived.
struct inbox {
  std::mutex mu;
  std::condition_variable cv;
  struct item {
    uint64_t id;
    etcd::result r;
    bool more;
  };
  std::vector<item> items;

  etcd::client::deliver_fn fn() {
    return [this](uint64_t id, etcd::result&& r, bool more) {
      std::lock_guard lock(mu);
      items.push_back({id, std::move(r), more});
      cv.notify_all();
    };
  }
  bool wait_for(size_t n, std::chrono::milliseconds limit = 5000ms) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, [&] { return items.size() >= n; });
  }
};

std::string dead_endpoint() {
  // A port that was free a moment ago: connecting is refused.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
}

}  // namespace

TEST(EtcdClient, FailsOverToTheNextEndpoint) {
  std::string seen_path, seen_body;
  fake_etcd server([&](int fd, const std::string& path, const std::string& body) {
    seen_path = path;
    seen_body = body;
    fake_etcd::reply(fd, R"({"header":{"revision":"9"},"ID":"77","TTL":"5"})");
  });
  inbox box;
  etcd::client c({dead_endpoint(), server.url()}, 2000, box.fn());
  uint64_t id = c.submit({etcd::kind::grant, etcd::grant_body(5)});
  ASSERT_TRUE(box.wait_for(1));
  EXPECT_EQ(box.items[0].id, id);
  ASSERT_TRUE(box.items[0].r.ok) << box.items[0].r.error;
  EXPECT_EQ(box.items[0].r.lease, 77);
  EXPECT_EQ(box.items[0].r.revision, 9);
  EXPECT_FALSE(box.items[0].more);
  EXPECT_EQ(seen_path, "/v3/lease/grant");
  EXPECT_EQ(seen_body, etcd::grant_body(5));
  // The next request goes straight to the endpoint that answered.
  c.submit({etcd::kind::grant, etcd::grant_body(5)});
  ASSERT_TRUE(box.wait_for(2));
  EXPECT_TRUE(box.items[1].r.ok);
  EXPECT_EQ(server.requests(), 2);
}

TEST(EtcdClient, EveryEndpointDeadIsAnError) {
  inbox box;
  std::string a = dead_endpoint(), b = dead_endpoint();
  etcd::client c({a, b}, 2000, box.fn());
  c.submit({etcd::kind::range, etcd::range_body("k", "")});
  ASSERT_TRUE(box.wait_for(1));
  EXPECT_FALSE(box.items[0].r.ok);
  // The error names the endpoint tried last.
  EXPECT_NE(box.items[0].r.error.find("127.0.0.1"), std::string::npos) << box.items[0].r.error;
}

TEST(EtcdClient, EtcdErrorIsDelivered) {
  fake_etcd server([](int fd, const std::string&, const std::string&) {
    std::string body = R"({"error":"etcdserver: requested lease not found","code":5})";
    fake_etcd::write_all(
        fd, "HTTP/1.1 404 Not Found\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\nConnection: close\r\n\r\n" + body);
  });
  inbox box;
  etcd::client c({server.url()}, 2000, box.fn());
  c.submit({etcd::kind::put, etcd::put_body("k", "v", 3)});
  ASSERT_TRUE(box.wait_for(1));
  EXPECT_FALSE(box.items[0].r.ok);
  EXPECT_NE(box.items[0].r.error.find("requested lease not found"), std::string::npos);
  EXPECT_EQ(server.requests(), 1);  // an answer from etcd is not a reason to fail over
}

TEST(EtcdClient, WatchLinesArriveAsTheyCome) {
  std::mutex mu;
  std::condition_variable cv;
  int step = 0;  // the test moves the server on
  fake_etcd server([&](int fd, const std::string& path, const std::string&) {
    ASSERT_EQ(path, "/v3/watch");
    fake_etcd::write_all(
        fd,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    fake_etcd::chunk(fd, "{\"result\":{\"header\":{\"revision\":\"3\"},\"created\":true}}\n");
    std::string line =
        R"({"result":{"header":{"revision":"4"},"events":[{"kv":{"key":"YQ==","value":"MQ==","mod_revision":"4"}}]}})"
        "\n";
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return step >= 1; });
    }
    fake_etcd::chunk(fd, line.substr(0, 20));  // a line split across chunks
    std::this_thread::sleep_for(50ms);
    fake_etcd::chunk(fd, line.substr(20));
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return step >= 2; });
    }
    fake_etcd::write_all(fd, "0\r\n\r\n");  // the stream ends
  });
  inbox box;
  etcd::client c({server.url()}, 2000, box.fn());
  uint64_t id = c.submit({etcd::kind::watch, etcd::watch_body("a", "b", 3)});
  ASSERT_TRUE(box.wait_for(1));
  EXPECT_TRUE(box.items[0].r.created);
  EXPECT_TRUE(box.items[0].more);
  {
    std::lock_guard lock(mu);
    step = 1;
  }
  cv.notify_all();
  ASSERT_TRUE(box.wait_for(2));
  ASSERT_TRUE(box.items[1].r.ok) << box.items[1].r.error;
  EXPECT_TRUE(box.items[1].more);
  ASSERT_EQ(box.items[1].r.events.size(), 1u);
  EXPECT_EQ(box.items[1].r.events[0].kv.key, "a");
  EXPECT_EQ(box.items[1].r.events[0].kv.value, "1");
  EXPECT_EQ(box.items[1].r.revision, 4);
  {
    std::lock_guard lock(mu);
    step = 2;
  }
  cv.notify_all();
  ASSERT_TRUE(box.wait_for(3));
  EXPECT_EQ(box.items[2].id, id);
  EXPECT_FALSE(box.items[2].r.ok);
  EXPECT_FALSE(box.items[2].more);
  EXPECT_NE(box.items[2].r.error.find("watch stream ended"), std::string::npos)
      << box.items[2].r.error;
}

TEST(EtcdClient, SilentPeerTimesOutAndWatchDoesNotBlockDestruction) {
  std::atomic<bool> release{false};
  fake_etcd server([&](int, const std::string&, const std::string&) {
    while (!release) std::this_thread::sleep_for(10ms);  // accepts, never answers
  });
  inbox box;
  auto start = std::chrono::steady_clock::now();
  {
    etcd::client c({server.url()}, 300, box.fn());
    c.submit({etcd::kind::keepalive, etcd::keepalive_body(1)});
    ASSERT_TRUE(box.wait_for(1));
    EXPECT_FALSE(box.items[0].r.ok);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 3s);
    // A watch still waiting for its answer when the client goes away (the
    // server is busy with the first request; the kernel accepted this one).
    c.submit({etcd::kind::watch, etcd::watch_body("a", "b", 0)});
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  release = true;
  EXPECT_EQ(box.items.size(), 1u);  // the watch was dropped, not delivered
}
