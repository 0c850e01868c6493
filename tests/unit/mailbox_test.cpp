#include "core/mailbox.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

message numbered(uint32_t i) {
  message m;
  m.session = int32_t(i);
  return m;
}

TEST(Mailbox, StartsScheduledSoNothingRunsBeforeInit) {
  mailbox mb;
  EXPECT_FALSE(mb.push(numbered(1)));  // already scheduled: caller must not schedule again
  EXPECT_TRUE(mb.end_turn());          // has work: stays scheduled
}

TEST(Mailbox, ReportsTheIdleToScheduledTransitionOnce) {
  mailbox mb;
  EXPECT_FALSE(mb.end_turn());  // empty: goes idle
  EXPECT_TRUE(mb.push(numbered(1)));
  EXPECT_FALSE(mb.push(numbered(2)));
  EXPECT_FALSE(mb.push(numbered(3)));
}

TEST(Mailbox, GrowsAndKeepsOrderAcrossWrapAround) {
  mailbox mb;
  uint32_t overload = 0;
  message out[64];
  uint32_t next_in = 0, next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 37; ++i) (void)mb.push(numbered(next_in++));
    size_t n = mb.pop_batch(out, 20, 0, &overload);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i].session, int32_t(next_out++));
  }
  while (size_t n = mb.pop_batch(out, 64, 0, &overload))
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i].session, int32_t(next_out++));
  EXPECT_EQ(next_in, next_out);
  EXPECT_EQ(mb.size(), 0u);
}

TEST(Mailbox, WeightDecidesBatchSize) {
  mailbox mb;
  uint32_t overload = 0;
  message out[64];
  for (int i = 0; i < 40; ++i) (void)mb.push(numbered(uint32_t(i)));
  EXPECT_EQ(mb.pop_batch(out, 64, -1, &overload), 1u);  // one at a time
  EXPECT_EQ(mb.pop_batch(out, 64, 1, &overload), 19u);  // half of 39
  EXPECT_EQ(mb.pop_batch(out, 8, 0, &overload), 8u);    // all, capped
  EXPECT_EQ(mb.pop_batch(out, 64, 0, &overload), 12u);
}

TEST(Mailbox, OverloadThresholdDoublesAndResets) {
  mailbox mb;
  message out[1];
  uint32_t overload = 0;
  for (int i = 0; i < 1100; ++i) (void)mb.push(numbered(uint32_t(i)));
  mb.pop_batch(out, 1, -1, &overload);
  EXPECT_EQ(overload, 1100u);
  overload = 0;
  mb.pop_batch(out, 1, -1, &overload);
  EXPECT_EQ(overload, 0u);  // next report only past 2048
  for (int i = 0; i < 1000; ++i) (void)mb.push(numbered(uint32_t(i)));
  mb.pop_batch(out, 1, -1, &overload);
  EXPECT_EQ(overload, 2098u);
  // Drain: the threshold resets to 1024.
  while (mb.pop_batch(out, 1, -1, &overload)) {
  }
  overload = 0;
  for (int i = 0; i < 1030; ++i) (void)mb.push(numbered(uint32_t(i)));
  mb.pop_batch(out, 1, -1, &overload);
  EXPECT_EQ(overload, 1030u);
}

}  // namespace
}  // namespace tern
