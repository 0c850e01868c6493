// scheduler: the global run queue and the worker threads that drain it.
//
// A mailbox with work is "scheduled": it sits in the global FIFO, or in one
// worker's `next` slot. When a service's callback makes another mailbox ready,
// that mailbox goes to the running worker's next slot (the one it replaces
// goes to the global queue), so a request/response chain stays on one core
// and costs no thread hop. Every 64 turns a worker serves the global queue
// first, so chains cannot starve it. If a worker stays inside one turn for
// long, the timer thread moves its next slot to the global queue (rescue()).
//
// Idle workers spin for a few microseconds, then sleep. A push to the global
// queue wakes a sleeper only if no worker is spinning, and a spinner that finds
// work wakes a replacement only if more work is waiting: no wake-up per message.
//
// Threading: schedule() from any thread. run_one() only in deterministic mode
// (no worker threads). Per-worker monitor fields are written by their worker
// and read by the monitor thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/spinlock.hpp"
#include "tern/core/types.hpp"

struct tern_context;

namespace tern {

class node_impl;

// Intrusive FIFO of contexts (linked through tern_context::next_scheduled).
// size_ changes with sequentially consistent read-modify-writes: with the
// sleeper counters in scheduler they form the "push, then look for sleepers" /
// "announce sleep, then look at the queue" pair that cannot both miss.
class global_queue {
 public:
  void push(tern_context* ctx);
  tern_context* pop();
  [[nodiscard]] bool empty() const { return size_.load() <= 0; }

 private:
  spinlock lock_;
  std::atomic<int64_t> size_{0};
  tern_context* head_ = nullptr;
  tern_context* tail_ = nullptr;
};

// What a worker is delivering right now; the monitor reads it.
struct monitor_slot {
  std::atomic<uint32_t> version{0};
  std::atomic<handle_t> source{0};
  std::atomic<handle_t> destination{0};
  uint32_t checked_version = 0;  // monitor thread only

  void enter(handle_t src, handle_t dst) {
    source.store(src, std::memory_order_relaxed);
    destination.store(dst, std::memory_order_relaxed);
    // Only the owning worker writes: no read-modify-write needed.
    version.store(version.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  void leave() { destination.store(0, std::memory_order_relaxed); }
};

class scheduler {
 public:
  static constexpr int kMaxBatch = 64;

  scheduler(node_impl& node, int threads, std::vector<int> weights);
  ~scheduler();

  void start();
  void stop();  // wakes and joins every worker; queued mailboxes stay queued

  // Queues a mailbox that just became ready. The caller passes one reference.
  void schedule(tern_context* ctx);
  // Puts a mailbox that still has work after its turn at the back of the line.
  void requeue(tern_context* ctx);

  // Deterministic mode: runs one message of the next ready mailbox.
  bool run_one();
  // After stop(): takes every queued mailbox (for the final drain).
  tern_context* pop_any();

  // Timer thread: moves next slots of workers stuck in one turn to the global queue.
  void rescue();

  [[nodiscard]] int threads() const { return int(workers_.size()); }
  monitor_slot& monitor(int index) { return workers_[size_t(index)]->monitor; }

 private:
  struct worker {
    int index = 0;
    int weight = 0;
    std::thread thread;
    std::atomic<tern_context*> next{nullptr};
    std::atomic<uint64_t> turns{0};
    uint64_t rescue_seen = 0;  // timer thread only
    monitor_slot monitor;
  };

  void run(worker& w);
  tern_context* find_work(worker& w);
  tern_context* spin_then_sleep(worker& w);
  void push_global(tern_context* ctx);
  void wake_one();

  node_impl& node_;
  global_queue queue_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::atomic<bool> quit_{false};
  std::atomic<int> spinning_{0};
  uint64_t spin_cycles_;  // kSpinMicroseconds in TSC cycles
  std::atomic<int> sleeping_{0};
  std::mutex sleep_lock_;
  std::condition_variable sleep_cv_;
};

}  // namespace tern
