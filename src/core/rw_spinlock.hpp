// rw_spinlock: a reader/writer lock that spins instead of sleeping, for the
// handle registry, whose critical sections are a few loads or stores (a table
// rehash on growth is the only long one). A sleeping lock costs a futex
// round trip whenever a launch or exit meets a send; this one costs a CAS.
// Writers announce themselves first, so a stream of readers cannot starve
// them. Safe from any thread; not recursive.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "core/spinlock.hpp"

namespace tern {

class rw_spinlock {
 public:
  void lock_shared() noexcept {
    for (unsigned spins = 0;; ++spins) {
      uint32_t s = state_.load(std::memory_order_relaxed);
      if (!(s & (kWriter | kPending)) &&
          state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire))
        return;
      backoff(spins);
    }
  }
  void unlock_shared() noexcept { state_.fetch_sub(1, std::memory_order_release); }

  void lock() noexcept {
    for (unsigned spins = 0;; ++spins) {  // claim the pending bit: one writer at a time
      uint32_t s = state_.load(std::memory_order_relaxed);
      if (!(s & (kWriter | kPending)) &&
          state_.compare_exchange_weak(s, s | kPending, std::memory_order_acquire))
        break;
      backoff(spins);
    }
    for (unsigned spins = 0;; ++spins) {  // wait for the readers to leave
      uint32_t s = kPending;
      if (state_.compare_exchange_weak(s, kWriter, std::memory_order_acquire)) return;
      backoff(spins);
    }
  }
  void unlock() noexcept { state_.store(0, std::memory_order_release); }

 private:
  static constexpr uint32_t kWriter = 1u << 31;
  static constexpr uint32_t kPending = 1u << 30;

  static void backoff(unsigned spins) {
    if (spins < 64)
      TERN_CPU_RELAX();
    else
      std::this_thread::yield();  // the holder may be descheduled (or rehashing)
  }

  std::atomic<uint32_t> state_{0};
};

}  // namespace tern
