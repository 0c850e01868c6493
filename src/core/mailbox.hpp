// mailbox: one service's private message queue, a ring buffer that doubles when
// full.
//
// Threading: push() from any thread; pop_batch()/end_turn() only from the worker
// that currently runs the owning service. All state is behind one spinlock.
//
// in_global_ is true while the mailbox is scheduled: sitting in the global
// queue, in a worker's next slot, or being drained. push() reports the moment it
// goes from idle to scheduled, so the caller schedules it exactly once. A new
// mailbox starts scheduled so nothing runs before the service's init is done.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/spinlock.hpp"
#include "tern/core/types.hpp"

namespace tern {

class mailbox {
 public:
  static constexpr uint32_t kInitialCapacity = 4;
  static constexpr uint32_t kOverloadThreshold = 1024;

  mailbox() = default;
  ~mailbox();
  mailbox(const mailbox&) = delete;
  mailbox& operator=(const mailbox&) = delete;

  // Appends m. Returns true when the caller must schedule the mailbox.
  [[nodiscard]] bool push(const message& m);

  // Moves messages into out (at most max): one if weight < 0, otherwise
  // length >> weight (at least one). Returns how many. Sets *overload to the
  // length when it passed the overload threshold (which then doubles; it
  // resets when the queue drains), else leaves it alone.
  size_t pop_batch(message* out, size_t max, int weight, uint32_t* overload);

  // Ends a worker's turn: if empty, the mailbox goes idle (returns false);
  // otherwise it stays scheduled and the caller must requeue it (returns true).
  [[nodiscard]] bool end_turn();

  [[nodiscard]] size_t size() const;

 private:
  void grow();

  mutable spinlock lock_;
  message* ring_ = nullptr;
  uint32_t capacity_ = 0;
  uint32_t head_ = 0;
  uint32_t count_ = 0;
  uint32_t overload_threshold_ = kOverloadThreshold;
  bool in_global_ = true;
};

}  // namespace tern
