// The core cases written for CAF (C++ Actor Framework 0.17, Debian's
// libcaf-dev), the way a CAF user would, on 2 worker threads. Same cases and
// output as bench/core_bench.cpp, with "impl": "caf".
// Usage: caf_core_bench [case ...]; BENCH_SCALE scales the counts.
#include <unistd.h>

#include "../bench_util.hpp"

#include <caf/all.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace caf;
using clock_type = std::chrono::steady_clock;

using done_atom = atom_constant<atom("done")>;
using go_atom = atom_constant<atom("go")>;
using ack_atom = atom_constant<atom("ack")>;
using next_atom = atom_constant<atom("next")>;

namespace {

using bench::scaled;

void report(const char* name, double value, const char* unit) { bench::report("caf", name, value, unit); }

constexpr size_t kWorkers = 2;

struct config : actor_system_config {
  config() { set("scheduler.max-threads", kWorkers); }
};

// The workers start in actor_system's constructor, one thread each, named
// "caf.multiplexer". Refuse to report numbers from any other thread count.
size_t worker_threads() {
  size_t n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name == "caf.multiplexer") ++n;
  }
  return n;
}
void check_workers(actor_system& sys) {
  // Each worker names itself once running: give them a moment.
  size_t threads = worker_threads();
  for (int i = 0; i < 2000 && threads < sys.scheduler().num_workers(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    threads = worker_threads();
  }
  if (sys.scheduler().num_workers() != kWorkers || threads != kWorkers) {
    std::fprintf(stderr, "caf_core_bench: expected %zu workers, scheduler has %zu, %zu worker threads\n",
                 kWorkers, sys.scheduler().num_workers(), threads);
    std::exit(1);
  }
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// ---- core.pingpong ----
behavior ponger(event_based_actor*) {
  return {[](int x) { return x; }};
}
struct ping_state {
  long left = 0;
  std::function<void()> step;
};
behavior pinger(stateful_actor<ping_state>* self, actor pong, long n, actor listener) {
  self->state.left = n;
  self->state.step = [=] {
    self->request(pong, infinite, 1).then([=](int) {
      if (--self->state.left == 0) {
        self->send(listener, done_atom::value);
        self->quit();
      } else {
        self->state.step();
      }
    });
  };
  self->state.step();
  return {[](int) {}};
}

void bench_pingpong() {
  long n = scaled(1000000);
  config cfg;
  actor_system sys{cfg};
  check_workers(sys);
  scoped_actor self{sys};
  auto pong = sys.spawn(ponger);
  auto t0 = clock_type::now();
  sys.spawn(pinger, pong, n, actor_cast<actor>(self));
  self->receive([](done_atom) {});
  report("core.pingpong", double(n) / seconds_since(t0), "roundtrips/s");
  self->send_exit(pong, exit_reason::user_shutdown);
}

// ---- core.oneway ----
constexpr long kAckEvery = 100000;
constexpr long kMaxInFlight = 1000000;
struct sink_state {
  long received = 0;
};
behavior sink(stateful_actor<sink_state>* self, long total, actor listener) {
  return {[=](int) {
    long r = ++self->state.received;
    if (r % kAckEvery == 0) self->send(actor_cast<actor>(self->current_sender()), ack_atom::value);
    if (r == total) {
      self->send(listener, done_atom::value);
      self->quit();
    }
  }};
}
struct source_state {
  long sent = 0, acked = 0;
  bool blocked = false;
};
behavior source(stateful_actor<source_state>* self, actor snk, long total) {
  auto pump = [=] {
    auto& s = self->state;
    for (int i = 0; i < 1000 && s.sent < total; ++i) {
      if (s.sent - s.acked >= kMaxInFlight) {
        s.blocked = true;
        return;
      }
      self->send(snk, int(s.sent++));
    }
    if (s.sent < total) self->send(self, go_atom::value);
  };
  self->send(self, go_atom::value);
  return {
      [=](go_atom) { pump(); },
      [=](ack_atom) {
        self->state.acked += kAckEvery;
        if (self->state.blocked) {
          self->state.blocked = false;
          pump();
        }
        if (self->state.acked >= total) self->quit();
      },
  };
}

void bench_oneway() {
  long n = scaled(10000000);
  config cfg;
  actor_system sys{cfg};
  check_workers(sys);
  scoped_actor self{sys};
  auto t0 = clock_type::now();
  auto snk = sys.spawn(sink, n, actor_cast<actor>(self));
  auto src = sys.spawn(source, snk, n);
  self->receive([](done_atom) {});
  report("core.oneway", double(n) / seconds_since(t0), "msgs/s");
  self->send_exit(src, exit_reason::user_shutdown);
}

// ---- core.threadring ----
constexpr int kRing = 503;
struct ring_state {
  actor next;
};
behavior ring_member(stateful_actor<ring_state>* self, actor listener) {
  return {
      [=](next_atom, actor next) { self->state.next = next; },
      [=](int left) {
        if (left == 0)
          self->send(listener, done_atom::value);
        else
          self->send(self->state.next, left - 1);
      },
  };
}

void bench_threadring() {
  int hops = int(scaled(10000000));
  config cfg;
  actor_system sys{cfg};
  check_workers(sys);
  scoped_actor self{sys};
  std::vector<actor> ring;
  for (int i = 0; i < kRing; ++i) ring.push_back(sys.spawn(ring_member, actor_cast<actor>(self)));
  for (int i = 0; i < kRing; ++i) self->send(ring[size_t(i)], next_atom::value, ring[size_t(i + 1) % kRing]);
  auto t0 = clock_type::now();
  self->send(ring[0], hops);
  self->receive([](done_atom) {});
  report("core.threadring", double(hops) / seconds_since(t0), "hops/s");
  for (auto& a : ring) self->send_exit(a, exit_reason::user_shutdown);
}

// ---- core.fanout ----
// Slow in CAF 0.17 (about 30 s for 100,000 on 2 workers) and quadratic: the
// coordinator's spawns queue 100,000 launch jobs on its own worker, and every
// steal by the other worker is double_ended_queue::take_tail, which walks the
// singly linked queue from its head to find the new tail with both locks held.
// With 1 worker (no stealing) the same code takes about 2 s.
behavior child(event_based_actor* self) {
  return {[=](int x) {
    self->quit();
    return x;
  }};
}
struct coord_state {
  long replies = 0;
};
behavior coordinator(stateful_actor<coord_state>* self, long n, actor listener) {
  for (long i = 0; i < n; ++i) {
    auto c = self->spawn(child);
    self->request(c, infinite, int(i)).then([=](int) {
      if (++self->state.replies == n) {
        self->send(listener, done_atom::value);
        self->quit();
      }
    });
  }
  return {[](int) {}};
}

void bench_fanout() {
  long n = scaled(100000);
  config cfg;
  actor_system sys{cfg};
  check_workers(sys);
  auto t0 = clock_type::now();
  {
    scoped_actor self{sys};
    sys.spawn(coordinator, n, actor_cast<actor>(self));
    self->receive([](done_atom) {});
  }
  sys.await_all_actors_done();  // every child has exited
  report("core.fanout", seconds_since(t0), "s");
}

// ---- core.idle_bytes ----
using bench::rss_bytes;
// An event-based actor is initialised on a worker after spawn returns; count
// the initialisations so RSS is read once every actor has its behavior.
behavior idle_actor(event_based_actor*, std::atomic<long>* initialised) {
  initialised->fetch_add(1, std::memory_order_relaxed);
  return {[](int) {}};
}

void bench_idle_bytes() {
  long n = scaled(100000);
  config cfg;
  actor_system sys{cfg};
  check_workers(sys);
  scoped_actor self{sys};
  std::atomic<long> initialised{0};
  auto warm = sys.spawn(idle_actor, &initialised);
  std::vector<actor> actors;
  actors.reserve(size_t(n));
  while (initialised.load() < 1) std::this_thread::yield();
  size_t before = rss_bytes();
  for (long i = 0; i < n; ++i) actors.push_back(sys.spawn(idle_actor, &initialised));
  while (initialised.load() < n + 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  size_t after = rss_bytes();
  report("core.idle_bytes", double(after - before) / double(n), "bytes");
  for (auto& a : actors) self->send_exit(a, exit_reason::user_shutdown);
  self->send_exit(warm, exit_reason::user_shutdown);
}

}  // namespace

int main(int argc, char** argv) {
  bench::case_list cases = {
      {"core.pingpong", bench_pingpong},     {"core.oneway", bench_oneway},
      {"core.threadring", bench_threadring}, {"core.fanout", bench_fanout},
      {"core.idle_bytes", bench_idle_bytes},
  };
  bench::run(argc, argv, cases);
}
