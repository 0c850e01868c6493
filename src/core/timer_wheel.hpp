// timer_wheel: a hierarchical timing wheel counted in ticks (centiseconds in
// the runtime). 256 "near" slots hold events due within the current 256-tick
// block; four levels of 64 slots each hold later events, so one wheel covers
// 8 + 4*6 = 32 bits of ticks. An event sits in the slot picked by its expiry
// and the current time; when the time enters a new block of some level, that
// level's matching slot is emptied and its events are placed again (cascade),
// eventually reaching the near slots.
//
// The wheel is a plain data structure: it has no thread and no clock of its
// own. Whoever owns it (the timer thread) calls tick() once per elapsed tick.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "tern/core/types.hpp"

namespace tern {

struct timer_event {
  handle_t handle;
  int32_t session;
};

// Threading: add(), pending(), current_tick() and ticks_until_next_work() may
// be called from any thread. tick() and advance_idle() must only be called by
// one thread at a time (the timer thread). All state is behind one mutex
// (not a spinlock: a cascade of a crowded slot can take a while, and adders
// should sleep rather than spin through it).
class timer_wheel {
 public:
  static constexpr int kNearBits = 8;
  static constexpr int kLevelBits = 6;
  static constexpr int kLevels = 4;
  static constexpr uint32_t kNearSlots = 1u << kNearBits;
  static constexpr uint32_t kLevelSlots = 1u << kLevelBits;

  timer_wheel();
  // Starts the clock at start_tick instead of 0, so tests can reach the wrap of
  // the internal 32-bit time (every 2^32 ticks) without ticking there.
  explicit timer_wheel(uint64_t start_tick);
  ~timer_wheel();
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;

  // Schedules ev to fire during the tick() that makes current_tick() equal to
  // (current tick now) + ticks; ticks == 0 is treated as 1 (callers deliver
  // zero-tick timeouts themselves). Returns that firing tick.
  uint64_t add(const timer_event& ev, uint32_t ticks);

  // Advances the wheel by one tick and appends every event now due to `due`,
  // in insertion order for equal expiry. The caller delivers them afterwards,
  // outside the wheel's lock.
  void tick(std::vector<timer_event>& due);

  // Advances the clock by up to max_ticks ticks, stopping just before the next
  // tick that would fire or cascade anything, so no event is skipped. Returns
  // how many ticks it advanced. Lets a timer thread that fell far behind (or a
  // test) cross idle stretches without ticking through them.
  uint64_t advance_idle(uint64_t max_ticks);

  // Number of tick() calls until the next one that fires or cascades events
  // (>= 1), or UINT64_MAX when nothing is pending.
  [[nodiscard]] uint64_t ticks_until_next_work() const;

  [[nodiscard]] uint64_t current_tick() const;  // ticks advanced so far (+ start_tick)
  [[nodiscard]] size_t pending() const;         // events added and not yet fired

 private:
  static constexpr uint32_t kNil = UINT32_MAX;
  static constexpr int kChunkBits = 12;  // 4096 nodes (64 KiB) per chunk
  static constexpr uint32_t kChunkNodes = 1u << kChunkBits;
  // Chunks kept when the wheel drains; beyond this, a burst's memory is returned.
  static constexpr size_t kKeepChunks = 16;

  // Nodes live in chunks and link by 32-bit index: 16 bytes per event, no
  // allocation per add once the pool has warmed up.
  struct node {
    timer_event ev;
    uint32_t expire;  // internal 32-bit time at which the event fires
    uint32_t next;
  };
  struct slot_list {
    uint32_t head = kNil;
    uint32_t tail = kNil;
  };

  node& at(uint32_t i) { return chunks_[i >> kChunkBits][i & (kChunkNodes - 1)]; }
  uint32_t alloc_node();
  slot_list& slot_for(uint32_t expire);
  void link(uint32_t i);
  void cascade(slot_list& l);
  uint64_t ticks_until_next_work_locked() const;

  mutable std::mutex mutex_;
  uint64_t now_ = 0;   // 64-bit tick count reported by current_tick()
  uint32_t time_ = 0;  // low 32 bits of now_: the wheel's own, wrapping, time
  size_t pending_ = 0;
  slot_list near_[kNearSlots];
  slot_list levels_[kLevels][kLevelSlots];
  std::vector<std::unique_ptr<node[]>> chunks_;
  uint32_t fresh_ = 0;     // nodes below this index have been handed out at least once
  uint32_t free_ = kNil;   // recycled nodes, linked through node::next
};

}  // namespace tern
