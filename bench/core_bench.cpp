// make bench SUITE=core: the core cases on tern, one JSON line each.
// Usage: tern_core_bench [case ...]   (all cases when none given)
// BENCH_SCALE (default 1.0) scales the message counts, for quick smoke runs.
#include <fmt/format.h>
#include <unistd.h>

#include "bench_util.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tern/core/node.hpp"

using namespace tern;
using clock_type = std::chrono::steady_clock;

namespace {

std::atomic<bool> g_done{false};
using bench::scaled;

void finish() { g_done.store(true); }

void wait_done() {
  while (!g_done.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
}

node_options bench_options() {
  node_options o;
  o.threads = 2;
  o.monitor_interval_s = 0;
  o.logger = "/dev/null";
  if (const char* w = std::getenv("TERN_WEIGHTS")) o.worker_weights = {std::atoi(w)};
  return o;
}

void report(const char* name, double value, const char* unit) { bench::report("tern", name, value, unit); }

uint32_t read_u32(const message& m) {
  uint32_t v = 0;
  std::memcpy(&v, m.data(), sizeof v);
  return v;
}
std::string_view bytes(const uint32_t& v) { return {reinterpret_cast<const char*>(&v), sizeof v}; }

// ---- core.pingpong: request/response with a C++20 coroutine call ----
long g_rounds = 0;
struct ponger : service {
  void on_message(const message& m) override { reply(m, m.view()); }
};
struct pinger : service {
  bool init(std::string_view) override {
    peer_ = launch("ponger", "");
    fork(run());
    return true;
  }
  task<void> run() {
    for (long i = 0; i < g_rounds; ++i) co_await call(peer_, ptype::text, "ping");
    finish();
  }
  handle_t peer_ = 0;
};

// ---- core.oneway: many small messages, with credit flow control ----
long g_oneway_total = 0;
constexpr uint32_t kAckEvery = 100000;
constexpr long kMaxInFlight = 1000000;
struct sink : service {
  void on_message(const message& m) override {
    if (++received_ % kAckEvery == 0) send(m.source, ptype::response, {}, 0);
    if (received_ == g_oneway_total) finish();
  }
  long received_ = 0;
};
struct source : service {
  bool init(std::string_view) override {
    sink_ = launch("sink", "");
    send(self(), ptype::text, "go");
    return true;
  }
  void on_message(const message& m) override {
    if (m.type == ptype::response) {  // an ack: more credit
      acked_ += kAckEvery;
      if (!blocked_) return;
      blocked_ = false;
    }
    for (int i = 0; i < 1000 && sent_ < g_oneway_total; ++i) {
      if (sent_ - acked_ >= kMaxInFlight) {
        blocked_ = true;  // the next ack resumes sending
        return;
      }
      uint32_t v = uint32_t(sent_++);
      send(sink_, ptype::text, bytes(v));
    }
    if (sent_ < g_oneway_total) send(self(), ptype::text, "go");
  }
  handle_t sink_ = 0;
  long sent_ = 0, acked_ = 0;
  bool blocked_ = false;
};

// ---- core.threadring: a token passed around 503 services ----
constexpr int kRing = 503;
std::vector<handle_t> g_ring;
struct ring_member : service {
  bool init(std::string_view args) override {
    index_ = std::atoi(std::string(args).c_str());
    return true;
  }
  void on_message(const message& m) override {
    uint32_t left = read_u32(m);
    if (left == 0) {
      finish();
      return;
    }
    --left;
    send(g_ring[size_t(index_ + 1) % kRing], ptype::text, bytes(left));
  }
  int index_ = 0;
};

// ---- core.fanout: spawn, message, reply, exit ----
long g_fanout = 0;
struct child : service {
  void on_message(const message& m) override {
    reply(m, m.view());
    exit();
  }
};
struct coordinator : service {
  bool init(std::string_view) override {
    send(self(), ptype::text, "go");
    return true;
  }
  void on_message(const message& m) override {
    if (m.type == ptype::text) {
      for (long i = 0; i < g_fanout; ++i) {
        handle_t c = launch("child", "");
        send(c, ptype::text, "hi", int(i + 1));
      }
      return;
    }
    if (++replies_ == g_fanout) finish();
  }
  long replies_ = 0;
};

struct idle : service {};

using bench::rss_bytes;

template <class F>
double timed(F&& body) {
  g_done = false;
  auto t0 = clock_type::now();
  body();
  wait_done();
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

void bench_pingpong() {
  g_rounds = scaled(1000000);
  node n(bench_options());
  n.add_service_type<pinger>("pinger");
  n.add_service_type<ponger>("ponger");
  n.start();
  double s = timed([&] { n.launch("pinger", ""); });
  report("core.pingpong", double(g_rounds) / s, "roundtrips/s");
}

void bench_oneway() {
  g_oneway_total = scaled(10000000);
  node n(bench_options());
  n.add_service_type<source>("source");
  n.add_service_type<sink>("sink");
  n.start();
  double s = timed([&] { n.launch("source", ""); });
  report("core.oneway", double(g_oneway_total) / s, "msgs/s");
}

void bench_threadring() {
  uint32_t hops = uint32_t(scaled(10000000));
  node n(bench_options());
  n.add_service_type<ring_member>("ring_member");
  n.start();
  g_ring.clear();
  for (int i = 0; i < kRing; ++i) g_ring.push_back(n.launch("ring_member", std::to_string(i)));
  double s = timed([&] { n.send(0, g_ring[0], ptype::text, 0, bytes(hops)); });
  report("core.threadring", double(hops) / s, "hops/s");
}

void bench_fanout() {
  g_fanout = scaled(100000);
  node n(bench_options());
  n.add_service_type<coordinator>("coordinator");
  n.add_service_type<child>("child");
  n.start();
  size_t base = n.service_count();
  double s = timed([&] { n.launch("coordinator", ""); });
  auto t0 = clock_type::now();
  while (n.service_count() > base + 1) std::this_thread::sleep_for(std::chrono::microseconds(100));
  s += std::chrono::duration<double>(clock_type::now() - t0).count();  // until all children are gone
  report("core.fanout", s, "s");
}

void bench_idle_bytes() {
  long count = scaled(100000);
  node n(bench_options());
  n.add_service_type<idle>("idle");
  n.start();
  n.launch("idle", "");  // warm up
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  size_t before = rss_bytes();
  for (long i = 0; i < count; ++i) n.launch("idle", "");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let every first turn run
  size_t after = rss_bytes();
  report("core.idle_bytes", double(after - before) / double(count), "bytes");
}

}  // namespace

int main(int argc, char** argv) {
  bench::case_list cases = {
      {"core.pingpong", bench_pingpong},   {"core.oneway", bench_oneway},
      {"core.threadring", bench_threadring}, {"core.fanout", bench_fanout},
      {"core.idle_bytes", bench_idle_bytes},
  };
  bench::run(argc, argv, cases);
}
