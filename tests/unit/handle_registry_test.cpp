#include "core/handle_registry.hpp"

#include <gtest/gtest.h>

#include <memory>
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
