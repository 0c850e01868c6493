// The scheduler with real worker threads. Suite names contain "Concurrency":
// these tests also run under ThreadSanitizer.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>

#include "core/context.hpp"
#include "core/node_impl.hpp"
#include "test_util.hpp"
#include "tern/core/node.hpp"

namespace tern {
namespace {

node_options threaded(int threads, const std::string& log) {
  node_options o;
  o.threads = threads;
  o.monitor_interval_s = 0;
  o.logger = log;
  return o;
}

// Counts messages, asserts it never runs on two threads at once and that
// every sender's sequence numbers arrive in order.
struct guarded : service {
  static inline std::atomic<int> inside{0};
  static inline std::atomic<int> overlaps{0};
  static inline std::atomic<int> received{0};
  static inline std::atomic<int> out_of_order{0};
  std::map<handle_t, uint32_t> last_;
  void on_message(const message& m) override {
    if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
    uint32_t seq = 0;
    std::memcpy(&seq, m.data(), sizeof seq);
    uint32_t& last = last_[m.source];
    if (seq != last + 1) out_of_order.fetch_add(1);
    last = seq;
    inside.fetch_sub(1);
    received.fetch_add(1);
  }
};

// Sends `count` numbered messages to .guarded, in chunks, yielding between.
struct sender : service {
  uint32_t next_ = 1, count_ = 20000;
  handle_t target_ = 0;
  bool init(std::string_view) override {
    target_ = query(".guarded");
    send(self(), ptype::text, "go");
    return true;
  }
  void on_message(const message&) override {
    for (int i = 0; i < 100 && next_ <= count_; ++i, ++next_)
      send(target_, ptype::text, std::string_view(reinterpret_cast<const char*>(&next_), sizeof next_));
    if (next_ <= count_)
      send(self(), ptype::text, "go");
    else
      exit();
  }
};

TEST(SchedulerConcurrency, CallbacksNeverOverlapAndOrderIsKeptPerSender) {
  guarded::inside = 0;
  guarded::overlaps = 0;
  guarded::received = 0;
  guarded::out_of_order = 0;
  node n(threaded(4, test::temp_dir() + "/log"));
  n.add_service_type<guarded>("guarded");
  n.add_service_type<sender>("sender");
  n.start();
  handle_t g = n.launch("guarded", "");
  ASSERT_TRUE(n.impl().registry().bind_name("guarded", g));
  for (int i = 0; i < 6; ++i) ASSERT_NE(n.launch("sender", ""), 0u);
  ASSERT_TRUE(test::eventually([] { return guarded::received.load() == 6 * 20000; },
                               std::chrono::seconds(60)));
  EXPECT_EQ(guarded::overlaps.load(), 0);
  EXPECT_EQ(guarded::out_of_order.load(), 0);
  n.stop();
}

// Keeps 100 messages in its own mailbox forever.
struct flooder : service {
  void on_message(const message&) override { send(self(), ptype::text, "again"); }
  bool init(std::string_view) override {
    for (int i = 0; i < 100; ++i) send(self(), ptype::text, "start");
    return true;
  }
};

struct counter_echo : service {
  void on_message(const message& m) override { reply(m, m.view()); }
};

struct round_tripper : service {
  static inline std::atomic<int> done{0};
  bool init(std::string_view) override {
    fork(run());
    return true;
  }
  task<void> run() {
    handle_t e = query(".echo");
    for (int i = 0; i < 1000; ++i) {
      auto r = co_await call(e, ptype::text, "x");
      if (r.ok()) done.fetch_add(1);
    }
  }
};

TEST(SchedulerConcurrency, AFloodingServiceDoesNotStarveOthers) {
  round_tripper::done = 0;
  node n(threaded(1, test::temp_dir() + "/log"));  // one worker: the hardest case
  n.add_service_type<flooder>("flooder");
  n.add_service_type<counter_echo>("echo");
  n.add_service_type<round_tripper>("round_tripper");
  n.start();
  n.launch("flooder", "");
  handle_t e = n.launch("echo", "");
  n.impl().registry().bind_name("echo", e);
  n.launch("round_tripper", "");
  EXPECT_TRUE(test::eventually([] { return round_tripper::done.load() == 1000; },
                               std::chrono::seconds(30)));
  n.stop();
}

TEST(SchedulerConcurrency, ThousandConcurrentCallsAcrossWorkers) {
  round_tripper::done = 0;
  node n(threaded(2, test::temp_dir() + "/log"));
  n.add_service_type<counter_echo>("echo");
  n.add_service_type<round_tripper>("round_tripper");
  n.start();
  handle_t e = n.launch("echo", "");
  n.impl().registry().bind_name("echo", e);
  for (int i = 0; i < 20; ++i) n.launch("round_tripper", "");
  EXPECT_TRUE(test::eventually([] { return round_tripper::done.load() == 20000; },
                               std::chrono::seconds(60)));
  n.stop();
}

TEST(SchedulerConcurrency, StopWithWorkInFlightReleasesEverything) {
  node n(threaded(2, test::temp_dir() + "/log"));
  n.add_service_type<flooder>("flooder");
  n.add_service_type<counter_echo>("echo");
  n.add_service_type<round_tripper>("round_tripper");
  n.start();
  for (int i = 0; i < 10; ++i) n.launch("flooder", "");
  handle_t e = n.launch("echo", "");
  n.impl().registry().bind_name("echo", e);
  for (int i = 0; i < 10; ++i) n.launch("round_tripper", "");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  n.stop();  // must return; ASan checks nothing leaks
  EXPECT_EQ(n.service_count(), 0u);
}

struct quitter : service {
  bool init(std::string_view) override {
    fork(run());
    return true;
  }
  task<void> run() {
    co_await sleep(2);
    exit();
  }
};

TEST(SchedulerConcurrency, NodeStopsWhenTheLastServiceExits) {
  node n(threaded(2, test::temp_dir() + "/log"));
  n.add_service_type<quitter>("quitter");
  n.start();
  for (int i = 0; i < 5; ++i) n.launch("quitter", "");
  EXPECT_EQ(n.wait(), 0);
  EXPECT_EQ(n.service_count(), 0u);
}

// Spins until the runtime signals it.
struct spinner : service {
  static inline std::atomic<bool> signaled{false};
  void on_message(const message&) override {
    while (!signaled.load()) std::this_thread::yield();
  }
  void on_signal(int sig) override {
    if (sig == 0) signaled.store(true);
  }
};

TEST(MonitorConcurrency, ReportsACallbackThatSpinsAndSignalsIt) {
  spinner::signaled = false;
  std::string log = test::temp_dir() + "/log";
  node_options o = threaded(2, log);
  o.monitor_interval_s = 1;
  node n(o);
  n.add_service_type<spinner>("spinner");
  n.start();
  handle_t s = n.launch("spinner", "");
  n.send(0x01000042, s, ptype::text, 0, "spin");
  ASSERT_TRUE(test::eventually([] { return spinner::signaled.load(); }, std::chrono::seconds(10)));
  n.stop();
  std::string text = test::read_file(log);
  EXPECT_NE(text.find(fmt::format("message from :01000042 to :{:08x} may be in an endless loop", s)),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace tern
