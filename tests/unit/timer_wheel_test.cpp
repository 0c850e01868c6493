#include "core/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <thread>
#include <vector>

namespace tern {
namespace {

constexpr uint64_t k2to32 = uint64_t{1} << 32;

timer_event ev(int32_t session, handle_t handle = 1) { return timer_event{handle, session}; }

// Ticks w until current_tick() == target, checking that nothing fires before
// and returning what fires during the final tick. Uses advance_idle() to cross
// idle stretches when `skip_idle` is set.
std::vector<timer_event> run_until(timer_wheel& w, uint64_t target, bool skip_idle) {
  std::vector<timer_event> due;
  while (w.current_tick() < target) {
    if (skip_idle) w.advance_idle(target - w.current_tick() - 1);
    due.clear();
    w.tick(due);
    if (w.current_tick() < target && !due.empty()) {
      ADD_FAILURE() << "session " << due[0].session << " fired early at tick " << w.current_tick()
                    << ", expected " << target;
      return due;
    }
  }
  return due;
}

const std::vector<uint32_t> kSmallDelays = {1,     2,     3,     254,   255,   256,   257,   511,  512,
                                            1000,  16383, 16384, 16385, 16640, 32768, 65535, 65536,
                                            (1u << 20) - 1, 1u << 20, (1u << 20) + 3};

TEST(TimerWheel, EachDelayFiresExactlyAtItsTick) {
  // One event per wheel, stepped one tick at a time.
  for (uint32_t t : kSmallDelays) {
    timer_wheel w;
    EXPECT_EQ(w.add(ev(int32_t(t)), t), t);
    auto due = run_until(w, t, false);
    ASSERT_EQ(due.size(), 1u) << "delay " << t;
    EXPECT_EQ(due[0].session, int32_t(t));
    EXPECT_EQ(w.pending(), 0u);
  }
}

TEST(TimerWheel, SpreadOfDelaysInOneWheelFromAnOddStart) {
  timer_wheel w(12345);  // not block-aligned, so every level has a nonzero digit
  std::map<uint64_t, std::vector<int32_t>> want;
  for (size_t i = 0; i < kSmallDelays.size(); ++i) {
    uint64_t at = w.add(ev(int32_t(i)), kSmallDelays[i]);
    want[at].push_back(int32_t(i));
  }
  std::vector<timer_event> due;
  uint64_t last = want.rbegin()->first;
  while (w.current_tick() < last) {
    due.clear();
    w.tick(due);
    std::vector<int32_t> got;
    for (auto& e : due) got.push_back(e.session);
    auto it = want.find(w.current_tick());
    EXPECT_EQ(got, it == want.end() ? std::vector<int32_t>{} : it->second)
        << "at tick " << w.current_tick();
  }
  EXPECT_EQ(w.pending(), 0u);
}

TEST(TimerWheel, LargeDelaysFireExactlyFromSeveralStarts) {
  const std::vector<uint32_t> delays = {(1u << 26) + 5, (1u << 26) - 1, 1u << 26, 0x7fffffffu,
                                        0x80000000u,    0xfffffffeu,    0xffffffffu, 0x12345678u};
  const std::vector<uint64_t> starts = {0, 1, 12345, k2to32 - 1, k2to32 - 300, 7 * k2to32 + 0x9abcdefu};
  for (uint64_t start : starts) {
    for (uint32_t t : delays) {
      timer_wheel w(start);
      // A near-term neighbour so advance_idle must stop for real work too.
      w.add(ev(-1), 300);
      EXPECT_EQ(w.add(ev(7), t), start + t);
      auto first = run_until(w, start + 300, true);
      ASSERT_EQ(first.size(), 1u);
      EXPECT_EQ(first[0].session, -1);
      auto due = run_until(w, start + t, true);
      ASSERT_EQ(due.size(), 1u) << "start " << start << " delay " << t;
      EXPECT_EQ(due[0].session, 7);
      EXPECT_EQ(w.pending(), 0u);
    }
  }
}

TEST(TimerWheel, ZeroTicksMeansNextTick) {
  timer_wheel w;
  EXPECT_EQ(w.add(ev(1), 0), 1u);
  std::vector<timer_event> due;
  w.tick(due);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].session, 1);
}

TEST(TimerWheel, EqualExpiryFiresInInsertionOrderEvenFromDifferentLevels) {
  timer_wheel w(100);
  // All expire at tick 100 + 70000: added at different times, so they are
  // first placed at different levels and meet in the near slots by cascading.
  const uint64_t target = 100 + 70000;
  std::vector<timer_event> due;
  int32_t next_session = 0;
  std::vector<int32_t> want;
  for (uint64_t step : {0u, 1u, 200u, 16000u, 40000u, 65500u, 69800u, 69999u}) {
    while (w.current_tick() < 100 + step) {
      w.tick(due);
      ASSERT_TRUE(due.empty());
    }
    for (int k = 0; k < 3; ++k) {
      w.add(ev(next_session), uint32_t(target - w.current_tick()));
      want.push_back(next_session++);
    }
  }
  due = run_until(w, target, false);
  std::vector<int32_t> got;
  for (auto& e : due) got.push_back(e.session);
  EXPECT_EQ(got, want);
}

TEST(TimerWheel, PendingCountsAddsAndFirings) {
  timer_wheel w;
  EXPECT_EQ(w.pending(), 0u);
  EXPECT_EQ(w.ticks_until_next_work(), UINT64_MAX);
  w.add(ev(1), 1);
  w.add(ev(2), 2);
  w.add(ev(3), 2);
  w.add(ev(4), 1000);
  EXPECT_EQ(w.pending(), 4u);
  EXPECT_EQ(w.ticks_until_next_work(), 1u);
  std::vector<timer_event> due;
  w.tick(due);
  EXPECT_EQ(w.pending(), 3u);
  w.tick(due);
  EXPECT_EQ(w.pending(), 1u);
  EXPECT_EQ(due.size(), 3u);
  // Next work is the cascade of the level-0 slot holding tick 1000 at tick 768.
  EXPECT_EQ(w.ticks_until_next_work(), 768u - 2u);
  EXPECT_EQ(w.advance_idle(100000), 765u);
  EXPECT_EQ(w.current_tick(), 767u);
  w.tick(due);
  EXPECT_EQ(due.size(), 3u);
  EXPECT_EQ(w.ticks_until_next_work(), 1000u - 768u);
  EXPECT_EQ(w.pending(), 1u);
  // Events left pending are freed by the destructor (checked by ASan).
}

TEST(TimerWheel, KeepsWorkingAfterABurstDrains) {
  // Draining a large burst returns most node memory; later adds must still work.
  timer_wheel w;
  std::vector<timer_event> due;
  for (int round = 0; round < 3; ++round) {
    for (int32_t i = 0; i < 200000; ++i) w.add(ev(i), uint32_t(1 + i % 500));
    size_t fired = 0;
    for (int k = 0; k < 500; ++k) {
      due.clear();
      w.tick(due);
      fired += due.size();
    }
    EXPECT_EQ(fired, 200000u);
    EXPECT_EQ(w.pending(), 0u);
    w.add(ev(-1), 3);
    auto last = run_until(w, w.current_tick() + 3, false);
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last[0].session, -1);
  }
}

TEST(TimerWheel, CurrentTickIs64BitAcrossTheInternalWrap) {
  timer_wheel w(k2to32 - 10);
  std::vector<timer_event> due;
  EXPECT_EQ(w.add(ev(1), 5), k2to32 - 5);
  EXPECT_EQ(w.add(ev(2), 10), k2to32);
  EXPECT_EQ(w.add(ev(3), 20), k2to32 + 10);
  EXPECT_EQ(w.add(ev(4), 300), k2to32 + 290);
  EXPECT_EQ(w.add(ev(5), 100000), k2to32 + 99990);
  std::map<uint64_t, int32_t> fired;
  while (w.pending() > 0) {
    due.clear();
    w.tick(due);
    for (auto& e : due) fired[w.current_tick()] = e.session;
  }
  std::map<uint64_t, int32_t> want = {{k2to32 - 5, 1},   {k2to32, 2},         {k2to32 + 10, 3},
                                      {k2to32 + 290, 4}, {k2to32 + 99990, 5}};
  EXPECT_EQ(fired, want);
  EXPECT_GT(w.current_tick(), k2to32);
}

// Random adds, ticks and idle skips against a simple model, from starts near
// the wrap and with delays spread over every level.
TEST(TimerWheel, MatchesAReferenceModel) {
  std::mt19937_64 rng(42);
  for (uint64_t start : {uint64_t{0}, k2to32 - 5000, 3 * k2to32 - 70000, uint64_t{0xdeadbeef}}) {
    timer_wheel w(start);
    std::map<uint64_t, std::vector<int32_t>> model;
    size_t model_pending = 0;
    int32_t session = 0;
    std::vector<timer_event> due;
    for (int step = 0; step < 200000; ++step) {
      uint32_t op = uint32_t(rng() % 100);
      if (op < 30) {
        int bits = int(rng() % 33);  // log-uniform magnitude
        uint64_t t64 = bits == 0 ? 0 : (rng() & ((uint64_t{1} << bits) - 1));
        uint32_t t = uint32_t(std::min<uint64_t>(t64, 0xffffffffu));
        uint64_t at = w.current_tick() + std::max<uint32_t>(t, 1);
        ASSERT_EQ(w.add(ev(session), t), at);
        model[at].push_back(session++);
        ++model_pending;
      } else if (op < 97) {
        due.clear();
        w.tick(due);
        std::vector<int32_t> got;
        for (auto& e : due) got.push_back(e.session);
        auto it = model.find(w.current_tick());
        std::vector<int32_t> want;
        if (it != model.end()) {
          want = std::move(it->second);
          model.erase(it);
        }
        ASSERT_EQ(got, want) << "tick " << w.current_tick();
        model_pending -= want.size();
      } else {
        uint64_t before = w.current_tick();
        uint64_t skipped = w.advance_idle(rng() % (uint64_t{1} << (rng() % 34)));
        ASSERT_EQ(w.current_tick(), before + skipped);
        // Nothing may be due within the skipped stretch.
        auto it = model.upper_bound(before);
        ASSERT_TRUE(it == model.end() || it->first > before + skipped) << "skipped a due event";
      }
      ASSERT_EQ(w.pending(), model_pending);
    }
    // Drain what is left, skipping idle stretches.
    while (!model.empty()) {
      uint64_t target = model.begin()->first;
      due = run_until(w, target, true);
      std::vector<int32_t> got;
      for (auto& e : due) got.push_back(e.session);
      ASSERT_EQ(got, model.begin()->second) << "tick " << target;
      model.erase(model.begin());
    }
    EXPECT_EQ(w.pending(), 0u);
  }
}

TEST(TimerWheel, MillionPendingTimersAllFireOnTime) {
  constexpr int32_t kCount = 1000000;
  constexpr uint32_t kMaxDelay = 100000;
  timer_wheel w(777);
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> delay(1, kMaxDelay);
  std::vector<uint64_t> expect(kCount);
  auto t0 = std::chrono::steady_clock::now();
  for (int32_t i = 0; i < kCount; ++i) expect[size_t(i)] = w.add(ev(i), delay(rng));
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(w.pending(), size_t(kCount));

  std::vector<bool> fired(kCount, false);
  size_t wrong_tick = 0, twice = 0, out_of_order = 0, total = 0;
  std::vector<timer_event> due;
  for (uint32_t k = 0; k < kMaxDelay; ++k) {
    due.clear();
    w.tick(due);
    uint64_t now = w.current_tick();
    for (size_t j = 0; j < due.size(); ++j) {
      auto s = size_t(due[j].session);
      if (expect[s] != now) ++wrong_tick;
      if (fired[s]) ++twice;
      fired[s] = true;
      // Same tick means same expiry: sessions were added in increasing order.
      if (j > 0 && due[j - 1].session >= due[j].session) ++out_of_order;
    }
    total += due.size();
  }
  auto t2 = std::chrono::steady_clock::now();
  EXPECT_EQ(wrong_tick, 0u);
  EXPECT_EQ(twice, 0u);
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_EQ(total, size_t(kCount));
  EXPECT_EQ(w.pending(), 0u);
  using ns = std::chrono::nanoseconds;
  std::printf("[   info   ] add: %.1f ns each, tick+deliver: %.1f ns per tick\n",
              double(std::chrono::duration_cast<ns>(t1 - t0).count()) / kCount,
              double(std::chrono::duration_cast<ns>(t2 - t1).count()) / kMaxDelay);
}

TEST(TimerWheelConcurrency, AddsFromManyThreadsWhileTicking) {
  constexpr int kThreads = 4;
  constexpr int32_t kPerThread = 20000;
  timer_wheel w;
  std::vector<uint64_t> expect(size_t(kThreads) * kPerThread);
  std::vector<uint64_t> fired_at(expect.size(), 0);
  std::vector<int> fire_count(expect.size(), 0);
  std::atomic<bool> adders_done{false};

  std::thread ticker([&] {
    std::vector<timer_event> due;
    while (!(adders_done.load(std::memory_order_acquire) && w.pending() == 0)) {
      due.clear();
      w.tick(due);
      uint64_t now = w.current_tick();
      for (auto& e : due) {
        fired_at[size_t(e.session)] = now;
        ++fire_count[size_t(e.session)];
      }
    }
  });
  std::vector<std::thread> adders;
  for (int t = 0; t < kThreads; ++t) {
    adders.emplace_back([&, t] {
      std::mt19937 rng{uint32_t(t)};
      for (int32_t i = 0; i < kPerThread; ++i) {
        int32_t s = t * kPerThread + i;
        expect[size_t(s)] = w.add(ev(s, handle_t(t + 1)), rng() % 300);
        if (i % 1000 == 0) (void)w.current_tick();
      }
    });
  }
  for (auto& a : adders) a.join();
  adders_done.store(true, std::memory_order_release);
  ticker.join();

  size_t wrong = 0, not_once = 0;
  for (size_t s = 0; s < expect.size(); ++s) {
    if (fire_count[s] != 1) ++not_once;
    if (fired_at[s] != expect[s]) ++wrong;
  }
  EXPECT_EQ(not_once, 0u);
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(w.pending(), 0u);
}

}  // namespace
}  // namespace tern
