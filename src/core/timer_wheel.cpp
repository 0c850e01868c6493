#include "core/timer_wheel.hpp"

#include <stdexcept>

namespace tern {

namespace {

constexpr uint32_t kNearMask = timer_wheel::kNearSlots - 1;
constexpr uint32_t kLevelMask = timer_wheel::kLevelSlots - 1;

constexpr int level_shift(int level) {
  return timer_wheel::kNearBits + timer_wheel::kLevelBits * level;
}

}  // namespace

timer_wheel::timer_wheel() = default;

timer_wheel::timer_wheel(uint64_t start_tick)
    : now_(start_tick), time_(static_cast<uint32_t>(start_tick)) {}

// Every node, pending or free, lives in chunks_, so dropping the chunks frees all.
timer_wheel::~timer_wheel() = default;

uint32_t timer_wheel::alloc_node() {
  if (free_ != kNil) {
    uint32_t i = free_;
    free_ = at(i).next;
    return i;
  }
  if (fresh_ == kNil) throw std::length_error("timer_wheel: too many pending timers");
  if ((fresh_ >> kChunkBits) == chunks_.size()) {
    chunks_.push_back(std::make_unique_for_overwrite<node[]>(kChunkNodes));
  }
  return fresh_++;
}

// Where an event expiring at internal time `expire` belongs at the current
// time_. Invariant: every pending event sits in slot_for(its expire), so events
// with equal expiry always share one list and keep their insertion order.
timer_wheel::slot_list& timer_wheel::slot_for(uint32_t expire) {
  // Delays are < 2^32, so expire < time_ means it lies in the next 2^32 block.
  // The top level's slot for its digit is next emptied by a cascade in that
  // block, at or before expire (never in this block: that cascade has passed).
  if (expire < time_) return levels_[kLevels - 1][expire >> level_shift(kLevels - 1)];
  uint32_t diff = expire ^ time_;
  if ((diff >> kNearBits) == 0) return near_[expire & kNearMask];
  for (int level = 0; level < kLevels - 1; ++level) {
    if ((diff >> level_shift(level + 1)) == 0) {
      return levels_[level][(expire >> level_shift(level)) & kLevelMask];
    }
  }
  return levels_[kLevels - 1][expire >> level_shift(kLevels - 1)];
}

void timer_wheel::link(uint32_t i) {
  node& n = at(i);
  n.next = kNil;
  slot_list& l = slot_for(n.expire);
  if (l.tail == kNil) {
    l.head = i;
  } else {
    at(l.tail).next = i;
  }
  l.tail = i;
}

// Re-places every event of l relative to the new time_, in list order (which
// keeps equal-expiry events in insertion order).
void timer_wheel::cascade(slot_list& l) {
  uint32_t i = l.head;
  l = slot_list{};
  while (i != kNil) {
    uint32_t next = at(i).next;
    link(i);
    i = next;
  }
}

uint64_t timer_wheel::add(const timer_event& ev, uint32_t ticks) {
  if (ticks == 0) ticks = 1;
  std::lock_guard<std::mutex> lock(mutex_);
  uint32_t i = alloc_node();
  node& n = at(i);
  n.ev = ev;
  n.expire = time_ + ticks;  // wraps with time_ on purpose
  link(i);
  ++pending_;
  return now_ + ticks;
}

void timer_wheel::tick(std::vector<timer_event>& due) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++now_;
  ++time_;
  if ((time_ & kNearMask) == 0) {
    // A new block began at every level whose lower bits are all zero. Order
    // does not matter: events re-placed from one level land in near or in a
    // lower level's slot whose digit differs from time_'s, never in a slot
    // cascaded in this same tick.
    for (int level = kLevels - 1; level >= 0; --level) {
      int shift = level_shift(level);
      if ((time_ & ((uint32_t{1} << shift) - 1)) == 0) {
        cascade(levels_[level][(time_ >> shift) & kLevelMask]);
      }
    }
  }

  slot_list& l = near_[time_ & kNearMask];
  if (l.head == kNil) return;
  size_t fired = 0;
  for (uint32_t i = l.head; i != kNil; i = at(i).next) {
    due.push_back(at(i).ev);
    ++fired;
  }
  // Hand the whole list to the free list in one splice.
  at(l.tail).next = free_;
  free_ = l.head;
  l = slot_list{};
  pending_ -= fired;

  // After a burst has drained, give most of its memory back.
  if (pending_ == 0 && chunks_.size() > kKeepChunks) {
    chunks_.resize(kKeepChunks);
    fresh_ = 0;
    free_ = kNil;
  }
}

uint64_t timer_wheel::ticks_until_next_work_locked() const {
  if (pending_ == 0) return UINT64_MAX;
  // Near slots later in the current block come before any cascade, since
  // cascades only happen when the low kNearBits bits of the time are zero.
  uint32_t low = time_ & kNearMask;
  for (uint32_t s = low + 1; s < kNearSlots; ++s) {
    if (near_[s].head != kNil) return s - low;
  }
  // A lower level's next non-empty slot is reached before any higher level's
  // (it lies in the current block of the level above). Slots at or below the
  // current digit are empty for all but the top level (see slot_for).
  for (int level = 0; level < kLevels; ++level) {
    int shift = level_shift(level);
    uint32_t digit = (time_ >> shift) & kLevelMask;
    uint64_t into = time_ & ((uint64_t{1} << shift) - 1);  // ticks since the digit began
    for (uint32_t d = digit + 1; d < kLevelSlots; ++d) {
      if (levels_[level][d].head != kNil) return (uint64_t{d - digit} << shift) - into;
    }
    if (level == kLevels - 1) {
      // Top level, wrapped: slots at or below the digit are due in the next 2^32 block.
      for (uint32_t d = 0; d <= digit; ++d) {
        if (levels_[level][d].head != kNil) {
          return (uint64_t{d + kLevelSlots - digit} << shift) - into;
        }
      }
    }
  }
  return UINT64_MAX;  // unreachable while pending_ > 0
}

uint64_t timer_wheel::ticks_until_next_work() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ticks_until_next_work_locked();
}

uint64_t timer_wheel::advance_idle(uint64_t max_ticks) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t next = ticks_until_next_work_locked();
  uint64_t skip = next - 1 < max_ticks ? next - 1 : max_ticks;
  // Every skipped tick would have cascaded an empty slot and fired an empty
  // near slot, so jumping the time keeps every event in its proper slot.
  now_ += skip;
  time_ += static_cast<uint32_t>(skip);
  return skip;
}

uint64_t timer_wheel::current_tick() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return now_;
}

size_t timer_wheel::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pending_;
}

}  // namespace tern
