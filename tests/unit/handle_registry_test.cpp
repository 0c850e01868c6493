#include "core/handle_registry.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/context.hpp"

namespace tern {
namespace {

TEST(HandleRegistry, HarborIdIsTheHighByte) {
  handle_registry reg(7);
  tern_context c;
  handle_t h = reg.insert(&c);
  EXPECT_EQ(h >> 24, 7u);
  EXPECT_EQ(h & kHandleMask, 1u);
  EXPECT_EQ(c.handle, h);
}

TEST(HandleRegistry, NoHandleReusedAcrossAMillionCreateReleaseCycles) {
  handle_registry reg(1);
  std::vector<std::unique_ptr<tern_context>> live;
  std::vector<bool> seen(1u << 24, false);
  for (int i = 0; i < 1000000; ++i) {
    auto c = std::make_unique<tern_context>();
    handle_t h = reg.insert(c.get());
    ASSERT_FALSE(seen[h & kHandleMask]) << "reused " << h;
    seen[h & kHandleMask] = true;
    live.push_back(std::move(c));
    if (live.size() > 100) {  // keep ~100 alive, release the oldest
      ASSERT_EQ(reg.retire(live.front()->handle), live.front().get());
      live.erase(live.begin());
    }
  }
}

TEST(HandleRegistry, AfterWrapLiveIdsAreSkippedAndIdsKeepIncreasing) {
  handle_registry reg(0);
  tern_context keep1, keep2;
  handle_t a = reg.insert(&keep1);  // id 1, stays alive through the wrap
  handle_t b = reg.insert(&keep2);  // id 2
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  tern_context temp;
  handle_t last = b;
  while (last != kHandleMask) {  // ids whose slot aliases a live one are skipped too
    handle_t h = reg.insert(&temp);
    ASSERT_GT(h, last);
    last = h;
    reg.retire(h);
  }
  // Wrapped: 0 is never used, 1 and 2 are alive, so the next id is 3.
  EXPECT_EQ(reg.insert(&temp), 3u);
}

TEST(HandleRegistry, TableDoublesAndLookupsStillWork) {
  handle_registry reg(1);
  std::vector<std::unique_ptr<tern_context>> ctxs;
  for (int i = 0; i < 1000; ++i) {
    ctxs.push_back(std::make_unique<tern_context>());
    reg.insert(ctxs.back().get());
  }
  EXPECT_EQ(reg.size(), 1000u);
  for (auto& c : ctxs) {
    tern_context* found = nullptr;
    EXPECT_TRUE(reg.with(c->handle, [&](tern_context* x) { found = x; }));
    EXPECT_EQ(found, c.get());
  }
  EXPECT_FALSE(reg.with(0x01ffffff, [](tern_context*) {}));
}

TEST(HandleRegistry, NamesRegisterQueryAndRetireWithTheService) {
  handle_registry reg(1);
  tern_context a, b;
  handle_t ha = reg.insert(&a), hb = reg.insert(&b);
  EXPECT_TRUE(reg.bind_name("db", ha));
  EXPECT_TRUE(reg.bind_name("cache", ha));
  EXPECT_FALSE(reg.bind_name("db", hb));  // taken
  EXPECT_EQ(reg.find_name("db"), ha);
  EXPECT_EQ(reg.find_name("nope"), 0u);
  reg.retire(ha);
  EXPECT_EQ(reg.find_name("db"), 0u);
  EXPECT_EQ(reg.find_name("cache"), 0u);
  EXPECT_TRUE(reg.bind_name("db", hb));
  EXPECT_FALSE(reg.bind_name("x", ha));  // unknown handle
}

}  // namespace
}  // namespace tern

namespace tern {
namespace {

TEST(RwSpinlockConcurrency, WritersAreExclusiveAndReadersSeeConsistentState) {
  rw_spinlock lock;
  long a = 0, b = 0;  // writers keep a == b; readers must never see them differ
  std::atomic<int> torn{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        std::lock_guard guard(lock);
        ++a;
        ++b;
      }
    });
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        std::shared_lock guard(lock);
        if (a != b) torn.fetch_add(1);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(a, 40000);
  EXPECT_EQ(b, 40000);
  EXPECT_EQ(torn.load(), 0);
}

TEST(HandleRegistryConcurrency, LaunchAndLookupFromManyThreads) {
  handle_registry reg(1);
  std::vector<std::thread> threads;
  std::atomic<int> misses{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      std::vector<std::unique_ptr<tern_context>> mine;
      for (int i = 0; i < 2000; ++i) {
        mine.push_back(std::make_unique<tern_context>());
        handle_t h = reg.insert(mine.back().get());
        tern_context* found = nullptr;
        reg.with(h, [&](tern_context* c) { found = c; });
        if (found != mine.back().get()) misses.fetch_add(1);
        if (i % 2) reg.retire(h);
      }
      for (auto& c : mine) reg.retire(c->handle);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(misses.load(), 0);
  EXPECT_EQ(reg.size(), 0u);
}

}  // namespace
}  // namespace tern
