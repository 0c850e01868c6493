#include "core/scheduler.hpp"

#include <mutex>

#include "core/clock.hpp"
#include "core/context.hpp"
#include "core/node_impl.hpp"

namespace tern {

namespace {
// The worker running on this thread, if any (and whose scheduler it is).
thread_local void* tls_scheduler = nullptr;
thread_local void* tls_worker = nullptr;

// About 20 us of polling before sleeping: longer than a typical hop between
// services, shorter than the ~30 us a futex wake-up costs.
constexpr double kSpinMicroseconds = 2;
constexpr int kFairnessPeriod = 64;
}  // namespace

void global_queue::push(tern_context* ctx) {
  ctx->next_scheduled = nullptr;
  std::lock_guard guard(lock_);
  if (tail_)
    tail_->next_scheduled = ctx;
  else
    head_ = ctx;
  tail_ = ctx;
  size_.fetch_add(1);
}

tern_context* global_queue::pop() {
  if (size_.load(std::memory_order_relaxed) <= 0) return nullptr;
  std::lock_guard guard(lock_);
  tern_context* ctx = head_;
  if (!ctx) return nullptr;
  head_ = ctx->next_scheduled;
  if (!head_) tail_ = nullptr;
  ctx->next_scheduled = nullptr;
  size_.fetch_sub(1);
  return ctx;
}

scheduler::scheduler(node_impl& node, int threads, std::vector<int> weights)
    : node_(node), spin_cycles_(uint64_t(kSpinMicroseconds * 1000 / nanoseconds_per_cycle())) {
  for (int i = 0; i < threads; ++i) {
    auto w = std::make_unique<worker>();
    w->index = i;
    w->weight = weights.empty() ? 0 : weights[size_t(i) % weights.size()];
    workers_.push_back(std::move(w));
  }
}

scheduler::~scheduler() { stop(); }

void scheduler::start() {
  quit_.store(false);
  for (auto& w : workers_) {
    worker* wp = w.get();
    w->thread = std::thread([this, wp] { run(*wp); });
  }
}

void scheduler::stop() {
  quit_.store(true);
  {
    std::lock_guard guard(sleep_lock_);
  }
  sleep_cv_.notify_all();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

void scheduler::schedule(tern_context* ctx) {
  if (tls_scheduler == this) {
    auto* w = static_cast<worker*>(tls_worker);
    tern_context* displaced = w->next.exchange(ctx, std::memory_order_acq_rel);
    if (displaced) push_global(displaced);
    return;
  }
  push_global(ctx);
}

void scheduler::push_global(tern_context* ctx) {
  queue_.push(ctx);  // a seq_cst increment of the queue size, then:
  if (spinning_.load() == 0 && sleeping_.load() > 0) wake_one();
}

void scheduler::wake_one() {
  {
    std::lock_guard guard(sleep_lock_);
  }
  sleep_cv_.notify_one();
}

void scheduler::run(worker& w) {
  tls_scheduler = this;
  tls_worker = &w;
  node_.on_worker_start(w.index);
  while (!quit_.load(std::memory_order_relaxed)) {
    tern_context* ctx = find_work(w);
    if (!ctx) ctx = spin_then_sleep(w);
    if (!ctx) continue;
    node_.run_turn(ctx, w.weight, &w.monitor);
    w.turns.fetch_add(1, std::memory_order_relaxed);
  }
  // Hand back what this worker still held; the node drains it after stop().
  if (tern_context* ctx = w.next.exchange(nullptr)) queue_.push(ctx);
  tls_scheduler = nullptr;
  tls_worker = nullptr;
}

tern_context* scheduler::find_work(worker& w) {
  uint64_t turns = w.turns.load(std::memory_order_relaxed);
  if (turns % kFairnessPeriod == kFairnessPeriod - 1)
    if (tern_context* ctx = queue_.pop()) return ctx;
  if (w.next.load(std::memory_order_relaxed))
    if (tern_context* ctx = w.next.exchange(nullptr, std::memory_order_acq_rel)) return ctx;
  return queue_.pop();
}

tern_context* scheduler::spin_then_sleep(worker& w) {
  (void)w;
  tern_context* ctx = nullptr;
  // One spinner at a time, for a few microseconds: enough to catch a message
  // that follows closely without a futex wake, not enough to take the CPU from
  // the socket thread or a client on the same cores (net.echo_cpp at window 1
  // went from 145k to 180k msgs/s when 2 workers stopped spinning 300 us each).
  if (spinning_.fetch_add(1) == 0) {
    uint64_t deadline = cycle_now() + spin_cycles_;
    while (!ctx && !quit_.load(std::memory_order_relaxed)) {
      for (int j = 0; j < 16; ++j) TERN_CPU_RELAX();
      ctx = queue_.pop();
      if (cycle_now() > deadline) break;
    }
  }
  bool last_spinner = spinning_.fetch_sub(1) == 1;
  if (ctx) {
    // Keep one worker looking if more work is waiting.
    if (last_spinner && !queue_.empty() && sleeping_.load() > 0) wake_one();
    return ctx;
  }
  std::unique_lock guard(sleep_lock_);
  sleeping_.fetch_add(1);  // announce, then look (see global_queue)
  if (queue_.empty() && !quit_.load()) sleep_cv_.wait(guard);
  sleeping_.fetch_sub(1);
  return nullptr;
}

void scheduler::requeue(tern_context* ctx) { push_global(ctx); }

bool scheduler::run_one() {
  tern_context* ctx = queue_.pop();
  if (!ctx) return false;
  node_.run_turn(ctx, -1, nullptr);
  return true;
}

tern_context* scheduler::pop_any() {
  if (tern_context* ctx = queue_.pop()) return ctx;
  for (auto& w : workers_)
    if (tern_context* ctx = w->next.exchange(nullptr)) return ctx;
  return nullptr;
}

void scheduler::rescue() {
  for (auto& w : workers_) {
    uint64_t turns = w->turns.load(std::memory_order_relaxed);
    if (turns == w->rescue_seen && w->next.load(std::memory_order_relaxed)) {
      if (tern_context* ctx = w->next.exchange(nullptr, std::memory_order_acq_rel))
        push_global(ctx);
    }
    w->rescue_seen = turns;
  }
}

}  // namespace tern
