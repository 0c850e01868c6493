// tern::server timers: swoole's Server->tick / after / clearTimer.
//
// Each worker and task worker keeps its own timers (ids count from 1 in each
// process). Its loop polls with the time to the soonest one as the timeout
// (timer_timeout) and runs what is due between events (run_timers), on the
// main thread, so a timer's callback is like any other callback: it may
// send, close, end an HTTP response... Steady clock, millisecond resolution;
// a tick that falls behind skips the missed beats instead of running them in
// a burst.
#include <fmt/format.h>

#include <chrono>
#include <climits>

#include "server/server_impl.hpp"

namespace tern::server {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int server::impl::add_timer(int ms, bool repeat, std::function<void(server&, int)> fn) {
  const char* what = repeat ? "tick" : "after";
  if (who != role::worker && who != role::task_worker) {
    fail(fmt::format("{}: only in a worker or task worker process", what));
    return -1;
  }
  if (ms <= 0 || !fn) {
    fail(fmt::format("{}: needs a positive interval and a function", what));
    return -1;
  }
  int id = ++last_timer_id;
  if (id <= 0) id = last_timer_id = 1;  // wrapped: ids stay positive
  timer t;
  t.due = steady_ms() + ms;
  t.interval = repeat ? ms : 0;
  t.fn = std::make_shared<std::function<void(server&, int)>>(std::move(fn));
  timer_queue.emplace(t.due, id);
  timers[id] = std::move(t);
  return id;
}

int server::impl::timer_timeout(int cap) const {
  if (timer_queue.empty()) return cap;
  int64_t left = std::max<int64_t>(0, timer_queue.begin()->first - steady_ms());
  if (cap >= 0 && left > cap) return cap;
  return int(std::min<int64_t>(left, INT_MAX));
}

void server::impl::run_timers() {
  if (timer_queue.empty()) return;
  const int64_t now = steady_ms();
  // Only those due now: a callback that adds a timer due at once waits for
  // the next round (the loop polls in between).
  std::vector<int> due;
  for (auto it = timer_queue.begin(); it != timer_queue.end() && it->first <= now; ++it) due.push_back(it->second);
  if (due.empty()) return;
  const bool was_batching = batching;
  batching = true;  // PROCESS: the timers' sends go to the master in one write
  for (int id : due) {
    auto it = timers.find(id);
    if (it == timers.end()) continue;  // cleared by an earlier callback
    timer& t = it->second;
    timer_queue.erase({t.due, id});
    auto fn = t.fn;  // the callback may clear its own timer
    const bool repeat = t.interval > 0;
    if (repeat) {
      int64_t next = t.due + t.interval;
      if (next <= now) next = now + t.interval;  // fell behind: skip the missed beats
      t.due = next;
      timer_queue.emplace(next, id);
    } else {
      timers.erase(it);
    }
    run_callback(repeat ? "tick" : "after", [&] { (*fn)(*self, id); });
  }
  batching = was_batching;
  if (!batching && !outbox.empty()) flush_outbox();
}

void server::impl::clear_timers() {
  timers.clear();
  timer_queue.clear();
  last_timer_id = 0;
}

int server::tick(int ms, std::function<void(server&, int timer_id)> fn) {
  return impl_->add_timer(ms, true, std::move(fn));
}

int server::after(int ms, std::function<void(server&, int timer_id)> fn) {
  return impl_->add_timer(ms, false, std::move(fn));
}

bool server::clear_timer(int timer_id) {
  auto& d = *impl_;
  auto it = d.timers.find(timer_id);
  if (it == d.timers.end()) return d.fail(fmt::format("clear_timer: no timer {}", timer_id));
  d.timer_queue.erase({it->second.due, timer_id});
  d.timers.erase(it);
  return true;
}

}  // namespace tern::server
