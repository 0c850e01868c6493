// The socket thread (net/socket_server) against real sockets on 127.0.0.1 (and
// ::1 where the machine has it). Events are pushed by the sink into a queue
// that the test thread waits on. Suites named *Concurrency* also run under TSan.
#include "net/socket_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tern/core/types.hpp"

namespace tern::net {
namespace {

using namespace std::chrono_literals;
using ev = socket_event_type;

// A copy of one event; data buffers are copied and freed at once.
struct rec {
  uint32_t owner = 0;
  ev type{};
  int id = 0;
  int ud = 0;
  std::string data;
  std::string text;
  udp_address from;
};

class event_queue {
 public:
  void push(uint32_t owner, socket_event& e) {
    rec r;
    r.owner = owner;
    r.type = e.type;
    r.id = e.id;
    r.ud = e.ud;
    r.text = e.text;
    r.from = e.from;
    if (e.buffer) {
      r.data.assign(e.buffer, size_t(e.ud));
      mem_free(e.buffer);
      e.buffer = nullptr;
    }
    std::lock_guard lk(mu_);
    if (ignored_.count(owner)) return;
    q_.push_back(std::move(r));
    cv_.notify_all();
  }

  void ignore(uint32_t owner) {
    std::lock_guard lk(mu_);
    ignored_.insert(owner);
  }

  // Removes and returns the first queued event that matches; waits for one.
  template <class P>
  std::optional<rec> wait(P pred, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lk(mu_);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (auto it = q_.begin(); it != q_.end(); ++it) {
        if (pred(*it)) {
          rec r = std::move(*it);
          q_.erase(it);
          return r;
        }
      }
      if (cv_.wait_until(lk, deadline) == std::cv_status::timeout) {
        for (auto it = q_.begin(); it != q_.end(); ++it) {
          if (pred(*it)) {
            rec r = std::move(*it);
            q_.erase(it);
            return r;
          }
        }
        return std::nullopt;
      }
    }
  }

  std::optional<rec> wait_for(ev type, int id, std::chrono::milliseconds timeout = 5s) {
    return wait([&](const rec& r) { return r.type == type && r.id == id; }, timeout);
  }

  // Data events for id until n bytes arrived (or the timeout).
  std::string read(int id, size_t n, std::chrono::milliseconds timeout = 5s) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.size() < n) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      auto r = wait([&](const rec& e) { return e.type == ev::data && e.id == id; }, left);
      if (!r) break;
      got += r->data;
    }
    return got;
  }

  // Every event of id, in order, up to and including the first of `type`.
  std::vector<rec> until(int id, ev type, std::chrono::milliseconds timeout = 5s) {
    std::vector<rec> seq;
    for (;;) {
      auto r = wait([&](const rec& e) { return e.id == id; }, timeout);
      if (!r) return seq;
      seq.push_back(*r);
      if (r->type == type) return seq;
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<rec> q_;
  std::set<uint32_t> ignored_;
};

void* copy_of(std::string_view s) {
  void* p = mem_alloc(s.size());
  std::memcpy(p, s.data(), s.size());
  return p;
}

uint8_t pattern(size_t k) { return uint8_t(k * 131 + (k >> 12)); }

// A blocking POSIX client on 127.0.0.1.
int posix_connect(int port, int rcvbuf = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int local_port(int fd) {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(reinterpret_cast<sockaddr_in*>(&sa)->sin_port);
}

// Reads up to n bytes (less on EOF/error/timeout). *eof tells whether the peer closed.
std::string posix_read(int fd, size_t n, std::chrono::milliseconds timeout = 5s, bool* eof = nullptr) {
  std::string got;
  char buf[65536];
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (eof) *eof = false;
  while (got.size() < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(left.count())) <= 0) break;
    ssize_t r = ::read(fd, buf, std::min(sizeof buf, n - got.size()));
    if (r <= 0) {
      if (eof) *eof = true;
      break;
    }
    got.append(buf, size_t(r));
  }
  return got;
}

// Reads until the peer closes.
std::string posix_read_all(int fd, std::chrono::milliseconds timeout = 5s, bool* eof = nullptr) {
  return posix_read(fd, SIZE_MAX, timeout, eof);
}

void posix_write(int fd, std::string_view s) {
  ASSERT_EQ(::write(fd, s.data(), s.size()), ssize_t(s.size()));
}

int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int port = local_port(fd);
  ::close(fd);
  return port;
}

bool have_ipv6_loopback() {
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

constexpr uint32_t kServer = 1, kClient = 2;

class SocketServerTest : public ::testing::Test {
 protected:
  void SetUp() override { server.start(); }

  // A started listener on host:0; returns its id, *port gets the port.
  int listen_started(int* port, const char* host = "127.0.0.1", int backlog = 128) {
    std::string err;
    int id = server.listen(kServer, host, 0, backlog, &err, port);
    EXPECT_GE(id, 0) << err;
    server.start(kServer, id);
    auto e = events.wait_for(ev::connect, id);
    EXPECT_TRUE(e && e->text == "start");
    return id;
  }

  // Waits for an accept on listener lid, starts the new socket, returns its id.
  int accept_started(int lid) {
    auto a = events.wait_for(ev::accept, lid);
    if (!a) return -1;
    EXPECT_EQ(a->owner, kServer);
    server.start(kServer, a->ud);
    auto s = events.wait_for(ev::connect, a->ud);
    EXPECT_TRUE(s && s->text == "start");
    return a->ud;
  }

  // Commands are handled in order: once a command posted now has produced its
  // event, every earlier command has been handled too.
  void barrier() {
    events.ignore(99);
    int id = server.listen(99, "127.0.0.1", 0);
    ASSERT_GE(id, 0);
    server.start(98, id);
    ASSERT_TRUE(events.wait_for(ev::connect, id));
    server.shutdown(99, id);
  }

  int send_str(int id, std::string_view s) { return server.send(id, copy_of(s), s.size()); }

  size_t pending_of(int id) {
    for (auto& row : server.netstat())
      if (row.id == id) return row.write_pending;
    return 0;
  }

  // Declared first: the server's thread calls into it until the server is gone.
  event_queue events;
  socket_server server{[this](uint32_t owner, socket_event& e) { events.push(owner, e); }};
};

TEST_F(SocketServerTest, EchoRoundTripWithOwnConnect) {
  int port = 0;
  int lid = listen_started(&port);
  int cid = server.connect(kClient, "127.0.0.1", port);
  ASSERT_GE(cid, 0);
  auto acc = events.wait_for(ev::accept, lid);
  ASSERT_TRUE(acc);
  EXPECT_TRUE(acc->text.starts_with("127.0.0.1:")) << acc->text;
  int sid = acc->ud;
  server.start(kServer, sid);
  auto started = events.wait_for(ev::connect, sid);
  ASSERT_TRUE(started);
  EXPECT_EQ(started->text, "start");
  EXPECT_EQ(started->owner, kServer);
  auto con = events.wait_for(ev::connect, cid);
  ASSERT_TRUE(con);
  EXPECT_EQ(con->owner, kClient);
  EXPECT_EQ(con->text, fmt::format("127.0.0.1:{}", port));

  ASSERT_EQ(send_str(cid, "hello"), 0);
  EXPECT_EQ(events.read(sid, 5), "hello");
  ASSERT_EQ(send_str(sid, "world"), 0);
  EXPECT_EQ(events.read(cid, 5), "world");

  server.close(kClient, cid);
  auto c1 = events.wait_for(ev::close, cid);
  ASSERT_TRUE(c1);
  EXPECT_EQ(c1->owner, kClient);
  auto c2 = events.wait_for(ev::close, sid);  // the peer closed
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->owner, kServer);
  server.close(kServer, lid);
  EXPECT_TRUE(events.wait_for(ev::close, lid));
}

TEST_F(SocketServerTest, PosixClient) {
  int port = 0;
  int lid = listen_started(&port);
  int fd = posix_connect(port);
  ASSERT_GE(fd, 0);
  auto acc = events.wait_for(ev::accept, lid);
  ASSERT_TRUE(acc);
  EXPECT_EQ(acc->text, fmt::format("127.0.0.1:{}", local_port(fd)));
  int sid = acc->ud;
  server.start(kServer, sid);
  posix_write(fd, "ping");
  EXPECT_EQ(events.read(sid, 4), "ping");
  ASSERT_EQ(send_str(sid, "pong"), 0);
  EXPECT_EQ(posix_read(fd, 4), "pong");
  ::close(fd);
  auto c = events.wait_for(ev::close, sid);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->owner, kServer);
}

TEST_F(SocketServerTest, ListenPortInUseFailsAtOnce) {
  int port = 0;
  std::string err;
  int a = server.listen(kServer, "127.0.0.1", 0, 16, &err, &port);
  ASSERT_GE(a, 0) << err;
  EXPECT_GT(port, 0);
  int b = server.listen(kServer, "127.0.0.1", port, 16, &err);
  EXPECT_EQ(b, -1);
  EXPECT_EQ(err, fmt::format("listen 127.0.0.1:{} failed: Address already in use", port));
  // Not started: nothing accepts yet, but the port is taken (kernel backlog).
  int fd = posix_connect(port);
  EXPECT_GE(fd, 0);
  EXPECT_FALSE(events.wait_for(ev::accept, a, 100ms));
  server.start(kServer, a);
  EXPECT_TRUE(events.wait_for(ev::accept, a));
  ::close(fd);
}

TEST_F(SocketServerTest, StaleIdIsRejectedAndReusedSlotGetsNewId) {
  int port = 0;
  int lid = listen_started(&port);
  int fd = posix_connect(port);
  int sid = accept_started(lid);
  ASSERT_GE(sid, 0);
  server.close(kServer, sid);
  ASSERT_TRUE(events.wait_for(ev::close, sid));
  EXPECT_EQ(send_str(sid, "late"), -1);
  server.close(kServer, sid);  // stale: ignored, no second close
  EXPECT_FALSE(events.wait_for(ev::close, sid, 50ms));

  // Cycle ids until sid's slot is handed out again.
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  events.ignore(3);
  int reused = -1;
  for (int i = 0; i < 4 * 65536 && reused < 0; ++i) {
    int id = server.bind(3, sv[0]);
    if (id < 0) {
      std::this_thread::sleep_for(1ms);  // all slots waiting for their shutdown
      continue;
    }
    if ((id & 0xffff) == (sid & 0xffff))
      reused = id;
    else
      server.shutdown(3, id);
  }
  ASSERT_GE(reused, 0);
  EXPECT_NE(reused, sid);
  EXPECT_GT(reused, 0);
  EXPECT_EQ(send_str(sid, "stale"), -1);  // same slot, old id: refused
  ASSERT_EQ(send_str(reused, "fresh"), 0);
  EXPECT_EQ(posix_read(sv[1], 5), "fresh");
  server.shutdown(3, reused);
  barrier();
  EXPECT_NE(fcntl(sv[0], F_GETFD), -1);  // an adopted descriptor is not closed
  ::close(sv[0]);
  ::close(sv[1]);
  ::close(fd);
}

TEST_F(SocketServerTest, ConnectToClosedPortReportsError) {
  int port = closed_port();
  int cid = server.connect(kClient, "127.0.0.1", port);
  ASSERT_GE(cid, 0);
  auto e = events.wait_for(ev::error, cid);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->owner, kClient);
  EXPECT_EQ(e->text, fmt::format("connect 127.0.0.1:{} failed: Connection refused", port));
  EXPECT_EQ(send_str(cid, "x"), -1);
  for (auto& row : server.netstat()) EXPECT_NE(row.id, cid);
}

TEST_F(SocketServerTest, PeerCloseReportsClose) {
  int port = 0;
  int lid = listen_started(&port);
  int fd = posix_connect(port);
  int sid = accept_started(lid);
  posix_write(fd, "bye");
  ::close(fd);
  auto seq = events.until(sid, ev::close);
  ASSERT_FALSE(seq.empty());
  EXPECT_EQ(seq.back().type, ev::close);
  std::string data;
  for (auto& r : seq)
    if (r.type == ev::data) data += r.data;
  EXPECT_EQ(data, "bye");  // data first, then close
}

TEST_F(SocketServerTest, CloseFlushesQueuedDataWithWarnings) {
  int port = 0;
  int lid = listen_started(&port);
  int fd = posix_connect(port, 4096);
  int sid = accept_started(lid);
  const size_t chunk = 64 * 1024, total = 8 * 1024 * 1024;
  for (size_t off = 0; off < total; off += chunk) {
    auto* b = static_cast<uint8_t*>(mem_alloc(chunk));
    for (size_t i = 0; i < chunk; ++i) b[i] = pattern(off + i);
    ASSERT_EQ(server.send(sid, b, chunk), 0);
    std::this_thread::sleep_for(200us);  // let the socket thread see each threshold
  }
  server.close(kServer, sid);
  barrier();
  EXPECT_EQ(send_str(sid, "after close"), -1);  // closing: no more sends

  // Slowly at first, then as fast as it comes.
  std::string got;
  got.reserve(total);
  bool eof = false;
  while (got.size() < 512 * 1024) {
    std::string part = posix_read(fd, 16 * 1024, 2s, &eof);
    if (part.empty()) break;
    got += part;
    std::this_thread::sleep_for(1ms);
  }
  got += posix_read_all(fd, 10s, &eof);
  EXPECT_TRUE(eof);
  ASSERT_EQ(got.size(), total);
  size_t bad = 0;
  for (size_t k = 0; k < total; ++k) bad += uint8_t(got[k]) != pattern(k);
  EXPECT_EQ(bad, 0u);

  auto seq = events.until(sid, ev::close);
  ASSERT_FALSE(seq.empty());
  EXPECT_EQ(seq.back().type, ev::close);
  EXPECT_EQ(seq.back().owner, kServer);
  std::vector<int> warnings;
  for (auto& r : seq)
    if (r.type == ev::warning) warnings.push_back(r.ud);
  ASSERT_GE(warnings.size(), 4u) << ::testing::PrintToString(warnings);
  EXPECT_GE(warnings[0], 1024);
  EXPECT_LT(warnings[0], 2048);
  EXPECT_GE(warnings[1], 2048);
  EXPECT_LT(warnings[1], 4096);
  EXPECT_GE(warnings[2], 4096);
  EXPECT_EQ(warnings.back(), 0);
  for (size_t i = 1; i + 1 < warnings.size(); ++i) EXPECT_GT(warnings[i], warnings[i - 1]);
  ::close(fd);
}

TEST_F(SocketServerTest, ShutdownDropsQueuedData) {
  int port = 0;
  int lid = listen_started(&port);
  int fd = posix_connect(port, 4096);
  int sid = accept_started(lid);
  const size_t total = 4 * 1024 * 1024;
  ASSERT_EQ(server.send(sid, mem_alloc(total), total), 0);
  EXPECT_GT(pending_of(sid), 0u);
  server.shutdown(kServer, sid);
  ASSERT_TRUE(events.wait_for(ev::close, sid, 1s));
  std::string got = posix_read_all(fd, 5s);
  EXPECT_LT(got.size(), total);
  for (auto& row : server.netstat()) EXPECT_NE(row.id, sid);
  ::close(fd);
}

TEST_F(SocketServerTest, PauseStopsDataAndStartResumes) {
  int port = 0;
  int lid = listen_started(&port);
  int fd = posix_connect(port);
  int sid = accept_started(lid);
  posix_write(fd, "a");
  EXPECT_EQ(events.read(sid, 1), "a");
  server.pause(kServer, sid);
  barrier();
  for (auto& row : server.netstat())
    if (row.id == sid) {
      EXPECT_FALSE(row.reading);
    }
  posix_write(fd, "b");
  EXPECT_FALSE(events.wait_for(ev::data, sid, 150ms));
  server.start(kServer, sid);
  EXPECT_EQ(events.read(sid, 1), "b");
  EXPECT_TRUE(events.wait_for(ev::connect, sid));  // "transfer" on every start, as skynet
  ::close(fd);
  EXPECT_TRUE(events.wait_for(ev::close, sid));
}

TEST_F(SocketServerTest, CloseWriteLetsPeerSeeEofWhileReading) {
  int port = 0;
  int lid = listen_started(&port);
  int fd = posix_connect(port, 4096);
  int sid = accept_started(lid);
  // Queued bytes go out before the FIN.
  const size_t total = 2 * 1024 * 1024;
  auto* b = static_cast<uint8_t*>(mem_alloc(total));
  for (size_t i = 0; i < total; ++i) b[i] = pattern(i);
  ASSERT_EQ(server.send(sid, b, total), 0);
  server.close_write(sid);
  bool eof = false;
  std::string got = posix_read_all(fd, 5s, &eof);
  EXPECT_TRUE(eof);
  ASSERT_EQ(got.size(), total);
  EXPECT_EQ(uint8_t(got.back()), pattern(total - 1));
  EXPECT_EQ(send_str(sid, "no"), -1);  // write side is shut
  posix_write(fd, "still");
  EXPECT_EQ(events.read(sid, 5), "still");
  for (auto& row : server.netstat())
    if (row.id == sid) {
      EXPECT_EQ(row.type, "halfclose");
    }
  ::close(fd);
  EXPECT_TRUE(events.wait_for(ev::close, sid));
}

TEST_F(SocketServerTest, LowPriorityWaitsForHighPriority) {
  int port = 0;
  int lid = listen_started(&port);
  const size_t big = 4 * 1024 * 1024;
  auto filled = [&](char c) {
    auto* p = static_cast<char*>(mem_alloc(big));
    std::memset(p, c, big);
    return p;
  };
  // A high-priority backlog: later high bytes overtake earlier low ones.
  {
    int fd = posix_connect(port, 4096);
    int sid = accept_started(lid);
    ASSERT_EQ(server.send(sid, filled('A'), big), 0);
    ASSERT_GT(pending_of(sid), 0u) << "the kernel took everything; nothing was queued";
    ASSERT_EQ(server.send_low(sid, copy_of("l1"), 2), 0);
    ASSERT_EQ(send_str(sid, "h1"), 0);
    ASSERT_EQ(server.send_low(sid, copy_of("l2"), 2), 0);
    ASSERT_EQ(send_str(sid, "h2"), 0);
    std::string got = posix_read(fd, big + 8, 10s);
    ASSERT_EQ(got.size(), big + 8);
    EXPECT_EQ(got.find_first_not_of('A'), big);
    EXPECT_EQ(got.substr(big), "h1h2l1l2");
    ::close(fd);
    ASSERT_TRUE(events.wait_for(ev::close, sid));
  }
  // A partly written low buffer finishes before anything else.
  {
    int fd = posix_connect(port, 4096);
    int sid = accept_started(lid);
    ASSERT_EQ(server.send_low(sid, filled('L'), big), 0);
    ASSERT_GT(pending_of(sid), 0u);
    ASSERT_EQ(send_str(sid, "h1"), 0);
    ASSERT_EQ(server.send_low(sid, copy_of("l2"), 2), 0);
    ASSERT_EQ(send_str(sid, "h3"), 0);
    std::string got = posix_read(fd, big + 6, 10s);
    ASSERT_EQ(got.size(), big + 6);
    EXPECT_EQ(got.find_first_not_of('L'), big);
    EXPECT_EQ(got.substr(big), "h1h3l2");
    ::close(fd);
    ASSERT_TRUE(events.wait_for(ev::close, sid));
  }
}

TEST_F(SocketServerTest, AddressHelpers) {
  udp_address a;
  ASSERT_TRUE(socket_server::udp_address_of("127.0.0.1", 8080, &a));
  ASSERT_EQ(a.size, 7);
  const uint8_t want[] = {1, 0x1f, 0x90, 127, 0, 0, 1};
  EXPECT_EQ(std::memcmp(a.bytes, want, 7), 0);
  int port = 0;
  EXPECT_EQ(socket_server::udp_address_to_string(a, &port), "127.0.0.1");
  EXPECT_EQ(port, 8080);
  ASSERT_TRUE(socket_server::udp_address_of("::1", 53, &a));
  EXPECT_EQ(a.size, 19);
  EXPECT_EQ(a.bytes[0], 2);
  EXPECT_EQ(socket_server::udp_address_to_string(a, &port), "::1");
  EXPECT_EQ(port, 53);
  EXPECT_TRUE(socket_server::udp_address_of("[::1]", 53, &a));
  EXPECT_FALSE(socket_server::udp_address_of("localhost", 53, &a));
  EXPECT_FALSE(socket_server::udp_address_of("127.0.0.1", 70000, &a));
  EXPECT_EQ(socket_server::udp_address_to_string(udp_address{}, &port), "");
}

void udp_round_trip(socket_server& server, event_queue& events, const char* host, uint8_t size) {
  std::string err;
  int pa = 0;
  int a = server.udp(kServer, host, 0, &err, &pa);
  ASSERT_GE(a, 0) << err;
  ASSERT_GT(pa, 0);
  int b = server.udp(kClient, host, 0, &err);
  ASSERT_GE(b, 0) << err;
  udp_address to;
  ASSERT_TRUE(socket_server::udp_address_of(host, pa, &to));
  ASSERT_EQ(server.udp_sendto(b, to, copy_of("hi"), 2), 0);
  auto e = events.wait_for(ev::udp, a);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->owner, kServer);
  EXPECT_EQ(e->data, "hi");
  ASSERT_EQ(e->from.size, size);
  int from_port = 0;
  EXPECT_EQ(socket_server::udp_address_to_string(e->from, &from_port), host);
  EXPECT_GT(from_port, 0);

  ASSERT_EQ(server.udp_sendto(a, e->from, copy_of("yo"), 2), 0);  // reply to the sender
  auto r = events.wait_for(ev::udp, b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->owner, kClient);
  EXPECT_EQ(r->data, "yo");
  int back_port = 0;
  socket_server::udp_address_to_string(r->from, &back_port);
  EXPECT_EQ(back_port, pa);

  EXPECT_EQ(server.send(b, copy_of("x"), 1), -1);  // no default peer yet
  ASSERT_EQ(server.udp_connect(b, host, pa, &err), 0) << err;
  ASSERT_EQ(server.send(b, copy_of("via connect"), 11), 0);
  auto c = events.wait_for(ev::udp, a);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->data, "via connect");
  EXPECT_EQ(std::memcmp(c->from.bytes, e->from.bytes, size), 0);

  udp_address other;
  socket_server::udp_address_of(size == 7 ? "::1" : "127.0.0.1", pa, &other);
  EXPECT_EQ(server.udp_sendto(b, other, copy_of("x"), 1), -1);  // wrong family

  bool saw_udp = false;
  for (auto& row : server.netstat())
    if (row.id == a) saw_udp = row.type == "udp" && row.read_bytes == 13;
  EXPECT_TRUE(saw_udp);
  server.close(kServer, a);
  server.close(kClient, b);
  EXPECT_TRUE(events.wait_for(ev::close, a));
  EXPECT_TRUE(events.wait_for(ev::close, b));
}

TEST_F(SocketServerTest, UdpRoundTripIPv4) {
  udp_round_trip(server, events, "127.0.0.1", 7);
  // An unbound socket sends too (the kernel picks the port).
  int pa = 0;
  int a = server.udp(kServer, "127.0.0.1", 0, nullptr, &pa);
  int b = server.udp(kClient, "", 0);
  ASSERT_GE(b, 0);
  udp_address to;
  socket_server::udp_address_of("127.0.0.1", pa, &to);
  ASSERT_EQ(server.udp_sendto(b, to, copy_of("u"), 1), 0);
  auto e = events.wait_for(ev::udp, a);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->data, "u");
  EXPECT_EQ(send_str(a, "tcp only"), -1);  // no default peer
}

TEST_F(SocketServerTest, UdpRoundTripIPv6) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback";
  udp_round_trip(server, events, "::1", 19);
}

TEST_F(SocketServerTest, TcpOverIPv6) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback";
  int port = 0;
  int lid = listen_started(&port, "::1");
  int cid = server.connect(kClient, "::1", port);
  auto acc = events.wait_for(ev::accept, lid);
  ASSERT_TRUE(acc);
  EXPECT_TRUE(acc->text.starts_with("[::1]:")) << acc->text;
  server.start(kServer, acc->ud);
  auto con = events.wait_for(ev::connect, cid);
  ASSERT_TRUE(con);
  EXPECT_EQ(con->text, fmt::format("[::1]:{}", port));
  ASSERT_EQ(send_str(cid, "six"), 0);
  EXPECT_EQ(events.read(acc->ud, 3), "six");
}

TEST_F(SocketServerTest, ConnectResolvesLocalhost) {
  int port = 0;
  int lid = listen_started(&port);
  int cid = server.connect(kClient, "localhost", port);
  ASSERT_GE(cid, 0);
  // Sent while the name is being resolved: queued, written once connected.
  ASSERT_EQ(send_str(cid, "early"), 0);
  int sid = accept_started(lid);
  ASSERT_GE(sid, 0);
  auto con = events.wait_for(ev::connect, cid);
  ASSERT_TRUE(con);
  EXPECT_EQ(con->text, fmt::format("127.0.0.1:{}", port));
  EXPECT_EQ(events.read(sid, 5), "early");
}

TEST_F(SocketServerTest, SlowResolverDoesNotBlockSocketThread) {
  struct gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
  };
  auto g = std::make_shared<gate>();
  server.set_resolver([g](const std::string& host, std::vector<std::string>* out, std::string* err) {
    if (host == "nowhere.test") {
      *err = "no such host";
      return false;
    }
    std::unique_lock lk(g->mu);
    g->cv.wait_for(lk, 5s, [&] { return g->open; });
    out->push_back("127.0.0.1");
    return true;
  });
  int port = 0;
  int lid = listen_started(&port);
  int cid = server.connect(kClient, "slow.test", port);
  ASSERT_GE(cid, 0);
  // The lookup hangs; the socket thread still serves others.
  int fd = posix_connect(port);
  int sid = accept_started(lid);
  posix_write(fd, "ping");
  EXPECT_EQ(events.read(sid, 4, 1s), "ping");
  EXPECT_FALSE(events.wait_for(ev::connect, cid, 10ms));
  for (auto& row : server.netstat())
    if (row.id == cid) {
      EXPECT_EQ(row.type, "connecting");
    }
  {
    std::lock_guard lk(g->mu);
    g->open = true;
  }
  g->cv.notify_all();
  auto con = events.wait_for(ev::connect, cid);
  ASSERT_TRUE(con);
  EXPECT_EQ(con->text, fmt::format("127.0.0.1:{}", port));

  int bad = server.connect(kClient, "nowhere.test", 80);
  auto e = events.wait_for(ev::error, bad);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->text, "connect nowhere.test:80 failed: no such host");
  ::close(fd);
}

TEST_F(SocketServerTest, BindAdoptsDescriptor) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  int id = server.bind(kServer, sv[0]);
  ASSERT_GE(id, 0);
  posix_write(sv[1], "early");
  EXPECT_FALSE(events.wait_for(ev::data, id, 50ms));  // not before start()
  server.start(kServer, id);
  auto s = events.wait_for(ev::connect, id);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->text, "start");
  EXPECT_EQ(events.read(id, 5), "early");
  ASSERT_EQ(send_str(id, "back"), 0);
  EXPECT_EQ(posix_read(sv[1], 4), "back");
  ::close(sv[1]);
  EXPECT_TRUE(events.wait_for(ev::close, id));
  EXPECT_NE(fcntl(sv[0], F_GETFD), -1);
  ::close(sv[0]);
}

TEST_F(SocketServerTest, NetstatListsLiveSockets) {
  int port = 0;
  int lid = listen_started(&port);
  int cid = server.connect(kClient, "127.0.0.1", port);
  auto acc = events.wait_for(ev::accept, lid);
  ASSERT_TRUE(acc);
  ASSERT_TRUE(events.wait_for(ev::connect, cid));
  ASSERT_EQ(send_str(cid, "12345"), 0);
  barrier();
  std::map<int, socket_info> rows;
  for (auto& r : server.netstat()) rows[r.id] = r;
  ASSERT_TRUE(rows.count(lid) && rows.count(cid) && rows.count(acc->ud));
  EXPECT_EQ(rows[lid].type, "listen");
  EXPECT_EQ(rows[lid].address, fmt::format("127.0.0.1:{}", port));
  EXPECT_EQ(rows[lid].owner, kServer);
  EXPECT_EQ(rows[cid].type, "tcp");
  EXPECT_EQ(rows[cid].owner, kClient);
  EXPECT_EQ(rows[cid].write_bytes, 5u);
  EXPECT_EQ(rows[acc->ud].type, "paccept");
  server.start(kServer, acc->ud);
  EXPECT_EQ(events.read(acc->ud, 5), "12345");
  for (auto& r : server.netstat())
    if (r.id == acc->ud) {
      EXPECT_EQ(r.type, "tcp");
      EXPECT_EQ(r.read_bytes, 5u);
    }
}

TEST_F(SocketServerTest, ThousandConnectionsEchoed) {
  const int n = 1000;
  int port = 0;
  int lid = listen_started(&port, "127.0.0.1", 1024);
  std::map<int, std::string> expect, got;
  for (int i = 0; i < n; ++i) {
    int cid = server.connect(kClient, "127.0.0.1", port);
    ASSERT_GE(cid, 0);
    expect[cid] = fmt::format("hello {}", cid);
  }
  int done = 0, closed = 0;
  std::set<int> server_closed;  // server-side sockets whose peer closed
  auto deadline = std::chrono::steady_clock::now() + 8s;
  while ((done < n || server_closed.size() < size_t(n)) && std::chrono::steady_clock::now() < deadline) {
    auto e = events.wait([](const rec&) { return true; }, 2s);
    if (!e) break;
    if (e->type == ev::accept && e->id == lid) {
      server.start(kServer, e->ud);
    } else if (e->type == ev::connect && e->owner == kClient) {
      ASSERT_EQ(send_str(e->id, expect[e->id]), 0);
    } else if (e->type == ev::data && e->owner == kServer) {
      ASSERT_EQ(send_str(e->id, e->data), 0);  // echo
    } else if (e->type == ev::data && e->owner == kClient) {
      std::string& g = got[e->id];
      g += e->data;
      if (g == expect[e->id]) {
        ++done;
        server.close(kClient, e->id);
      }
    } else if (e->type == ev::close) {
      // The client's own close, and the server side's peer close, after which
      // the server side is half-open until its owner closes it (as in skynet).
      ++closed;
      if (e->owner == kServer && server_closed.insert(e->id).second) server.close(kServer, e->id);
    } else if (e->type == ev::error) {
      ADD_FAILURE() << e->text;
    }
  }
  EXPECT_EQ(done, n);
  EXPECT_GE(closed, 2 * n);
  for (int i = 0; i < 100 && server.netstat().size() > 1; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.netstat().size(), 1u);  // only the listener
}

TEST(SocketServerLifecycle, StopIsIdempotentAndLaterCallsFail) {
  std::atomic<int> events{0};
  socket_server server([&](uint32_t, socket_event& e) {
    mem_free(e.buffer);
    events.fetch_add(1);
  });
  std::string err;
  int lid = server.listen(kServer, "127.0.0.1", 0, 16, &err);  // before start: fine
  ASSERT_GE(lid, 0) << err;
  server.start();
  int port = 0;
  int l2 = server.listen(kServer, "127.0.0.1", 0, 16, &err, &port);
  server.start(kServer, l2);
  int cid = server.connect(kClient, "127.0.0.1", port);
  ASSERT_GE(cid, 0);
  ASSERT_EQ(server.send(cid, copy_of("queued"), 6), 0);
  server.stop();
  int after = events.load();
  server.stop();
  EXPECT_EQ(server.listen(kServer, "127.0.0.1", 0, 16, &err), -1);
  EXPECT_EQ(server.connect(kClient, "127.0.0.1", port), -1);
  EXPECT_EQ(server.udp(kServer, "127.0.0.1", 0), -1);
  EXPECT_EQ(server.send(cid, copy_of("x"), 1), -1);
  EXPECT_EQ(server.send(lid, copy_of("x"), 1), -1);
  server.start(kServer, lid);
  server.close(kServer, lid);
  server.start();
  EXPECT_TRUE(server.netstat().empty());
  EXPECT_EQ(events.load(), after);  // stop() reports nothing
}

TEST(SocketServerLifecycle, DestroyedWithoutStart) {
  int port = 0;
  {
    socket_server server([](uint32_t, socket_event& e) { mem_free(e.buffer); });
    ASSERT_GE(server.listen(kServer, "127.0.0.1", 0, 16, nullptr, &port), 0);
    EXPECT_GE(server.connect(kClient, "127.0.0.1", port), 0);
  }
  // The listener's descriptor was closed: the port is free again.
  socket_server again([](uint32_t, socket_event& e) { mem_free(e.buffer); });
  std::string err;
  EXPECT_GE(again.listen(kServer, "127.0.0.1", port, 16, &err), 0) << err;
}

// --- running out of descriptors --------------------------------------------

bool read_line(int fd, std::string* line, std::chrono::milliseconds timeout) {
  line->clear();
  char c;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, int(left.count())) <= 0) return false;
    if (::read(fd, &c, 1) != 1) return false;
    if (c == '\n') return true;
    *line += c;
  }
}

void write_line(int fd, const std::string& s) {
  std::string l = s + "\n";
  ssize_t ignored = ::write(fd, l.data(), l.size());
  (void)ignored;
}

double process_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

// The child: an echo server that runs out of descriptors on command.
[[noreturn]] void emfile_child(int in, int out) {
  std::atomic<int> dropped{0};
  socket_server* self = nullptr;
  socket_server server([&](uint32_t owner, socket_event& e) {
    if (e.type == ev::accept) self->start(owner, e.ud);
    if (e.type == ev::data) {
      self->send(e.id, e.buffer, size_t(e.ud));  // echo, handing the buffer back
      e.buffer = nullptr;
    }
    mem_free(e.buffer);
  });
  self = &server;
  server.set_logger([&](std::string_view msg) {
    if (msg.find("dropped") != std::string_view::npos) dropped.fetch_add(1);
  });
  server.start();
  int port = 0;
  int lid = server.listen(kServer, "127.0.0.1", 0, 128, nullptr, &port);
  if (lid < 0) _exit(2);
  server.start(kServer, lid);

  // Use every descriptor up to a low limit.
  int probe = dup(0);
  ::close(probe);
  rlimit old{};
  getrlimit(RLIMIT_NOFILE, &old);
  rlimit low = old;
  low.rlim_cur = rlim_t(probe + 16);
  if (setrlimit(RLIMIT_NOFILE, &low) != 0) _exit(3);
  std::vector<int> fillers;
  for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers.push_back(fd);

  write_line(out, std::to_string(port));
  std::string line;
  if (!read_line(in, &line, 5s) || line != "go") _exit(4);
  double cpu0 = process_cpu_ms();
  std::this_thread::sleep_for(300ms);  // the parent keeps connecting meanwhile
  double cpu = process_cpu_ms() - cpu0;
  write_line(out, fmt::format("{} {}", int(cpu), dropped.load()));

  if (!read_line(in, &line, 5s) || line != "free") _exit(5);
  for (int fd : fillers) ::close(fd);
  setrlimit(RLIMIT_NOFILE, &old);
  write_line(out, "freed");
  if (!read_line(in, &line, 5s) || line != "done") _exit(6);
  server.stop();
  _exit(0);
}

// Connects without blocking on a full backlog; -1 if it did not complete.
int try_connect(int port, std::chrono::milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (poll(&p, 1, int(timeout.count())) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
    ::close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

TEST(SocketServerLimits, AcceptAtEmfileDoesNotSpinAndRecovers) {
  int to_child[2], from_child[2];
  ASSERT_EQ(pipe2(to_child, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(from_child, O_CLOEXEC), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    emfile_child(to_child[0], from_child[1]);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  int in = from_child[0], out = to_child[1];
  auto finish = [&] {
    ::close(out);
    ::close(in);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  };

  std::string line;
  ASSERT_TRUE(read_line(in, &line, 5s));
  int port = std::stoi(line);
  write_line(out, "go");
  int attempts = 0;
  auto until = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < until) {
    int fd = try_connect(port, 50ms);
    if (fd >= 0) ::close(fd);
    ++attempts;
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_TRUE(read_line(in, &line, 5s));
  int cpu_ms = 0, dropped = 0;
  ASSERT_EQ(std::sscanf(line.c_str(), "%d %d", &cpu_ms, &dropped), 2) << line;
  EXPECT_LT(cpu_ms, 150) << "the socket thread spins at EMFILE";
  EXPECT_GT(dropped, 0) << "no dropped connection was logged";
  EXPECT_GT(attempts, 10);

  write_line(out, "free");
  ASSERT_TRUE(read_line(in, &line, 5s));
  EXPECT_EQ(line, "freed");
  int fd = try_connect(port, 1000ms);
  ASSERT_GE(fd, 0);
  posix_write(fd, "alive");
  EXPECT_EQ(posix_read(fd, 5, 2s), "alive");
  ::close(fd);
  write_line(out, "done");
  int status = finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
}

// --- many threads ------------------------------------------------------------

class SocketServerConcurrency : public SocketServerTest {};

// Every thread sends numbered messages of varying size on one socket while the
// socket thread writes what the kernel refused; the peer must see each
// thread's messages complete and in order.
TEST_F(SocketServerConcurrency, ManySendersOneSocket) {
  int port = 0;
  int lid = listen_started(&port);
  int fd = posix_connect(port, 16 * 1024);
  int sid = accept_started(lid);
  constexpr int kThreads = 4, kMessages = 2000;

  std::atomic<bool> reader_ok{true};
  std::atomic<int> received{0};
  std::thread reader([&] {
    std::this_thread::sleep_for(20ms);  // let a backlog build, so the socket thread writes too
    std::vector<uint32_t> next(kThreads, 0);
    std::string buf;
    char tmp[65536];
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (received.load() < kThreads * kMessages && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      ssize_t r = ::read(fd, tmp, sizeof tmp);
      if (r <= 0) break;
      buf.append(tmp, size_t(r));
      size_t pos = 0;
      while (buf.size() - pos >= 7) {
        uint8_t t = uint8_t(buf[pos]);
        uint32_t seq;
        uint16_t len;
        std::memcpy(&seq, buf.data() + pos + 1, 4);
        std::memcpy(&len, buf.data() + pos + 5, 2);
        if (buf.size() - pos < 7u + len) break;
        bool ok = t < kThreads && seq == next[t];
        for (uint16_t i = 0; ok && i < len; ++i) ok = uint8_t(buf[pos + 7 + i]) == uint8_t(t * 31 + seq + i);
        if (!ok) reader_ok.store(false);
        if (t < kThreads) next[t] = seq + 1;
        pos += 7u + len;
        received.fetch_add(1);
      }
      buf.erase(0, pos);
    }
  });

  std::atomic<int> failures{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (uint32_t seq = 0; seq < uint32_t(kMessages); ++seq) {
        uint16_t len = uint16_t(1 + (seq * 37 + uint32_t(t) * 11) % 600);
        auto* m = static_cast<char*>(mem_alloc(7u + len));
        m[0] = char(t);
        std::memcpy(m + 1, &seq, 4);
        std::memcpy(m + 5, &len, 2);
        for (uint16_t i = 0; i < len; ++i) m[7 + i] = char(uint8_t(t * 31 + seq + i));
        if (server.send(sid, m, 7u + len) != 0) failures.fetch_add(1);
        if (seq % 256 == 0) (void)server.netstat();  // reads the slot from another thread
      }
    });
  }
  for (auto& s : senders) s.join();
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(received.load(), kThreads * kMessages);
  EXPECT_TRUE(reader_ok.load());
  ::close(fd);
  EXPECT_TRUE(events.wait_for(ev::close, sid));
}

TEST_F(SocketServerConcurrency, SendRacesShutdownAndPeerClose) {
  int port = 0;
  int lid = listen_started(&port);
  for (int round = 0; round < 2; ++round) {
    int fd = posix_connect(port, 4096);
    int sid = accept_started(lid);
    std::atomic<bool> go{true};
    std::vector<std::thread> senders;
    std::atomic<int> refused{0};
    for (int t = 0; t < 3; ++t)
      senders.emplace_back([&] {
        while (go.load()) {
          if (server.send(sid, mem_alloc(4096), 4096) != 0) {
            refused.fetch_add(1);
            return;
          }
          std::this_thread::yield();
        }
      });
    std::this_thread::sleep_for(20ms);
    if (round == 0)
      server.shutdown(kServer, sid);
    else
      ::close(fd);  // the peer goes away: a write error or a read EOF ends it
    auto end = events.wait([&](const rec& r) { return r.id == sid && (r.type == ev::close || r.type == ev::error); });
    EXPECT_TRUE(end);
    for (auto& s : senders) s.join();
    EXPECT_EQ(refused.load(), 3);
    if (round == 0) ::close(fd);
  }
}

TEST_F(SocketServerConcurrency, ConnectAndCloseFromManyThreads) {
  int port = 0;
  int lid = listen_started(&port);
  events.ignore(kServer + 10);
  std::atomic<int> ids{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        int cid = server.connect(kClient, "127.0.0.1", port);
        if (cid >= 0) ids.fetch_add(1);
        send_str(cid, "x");
        server.close(kClient, cid);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ids.load(), 200);
  // Every client socket ends with exactly one close (connected or not yet).
  int closes = 0;
  while (closes < 200) {
    auto e = events.wait([](const rec& r) { return r.owner == kClient && r.type == ev::close; });
    if (!e) break;
    ++closes;
  }
  EXPECT_EQ(closes, 200);
  // Accepted ones are never started; drop them.
  while (auto a = events.wait_for(ev::accept, lid, 50ms)) server.shutdown(kServer + 10, a->ud);
  barrier();
}

}  // namespace
}  // namespace tern::net
