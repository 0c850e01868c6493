// node_impl life cycle: start-up, the timer and monitor threads, shutdown.
#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "net/node_sockets.hpp"
#include "core/clock.hpp"
#include "core/context.hpp"
#include "core/node_impl.hpp"

namespace tern {

namespace {
std::atomic<bool> g_sighup{false};
std::atomic<bool> g_sigterm{false};

extern "C" void on_signal(int sig) {
  if (sig == SIGHUP)
    g_sighup.store(true);
  else
    g_sigterm.store(true);
}

int default_threads(int requested) {
  if (requested >= 0) return requested;
  unsigned n = std::thread::hardware_concurrency();
  return n ? int(n) : 2;
}

// Files closed by LOGOFF: a worker may still be writing to one, so they are
// closed when the node stops.
std::mutex g_closed_logs_lock;
std::vector<FILE*> g_closed_logs;
}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGHUP, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

node_impl::node_impl(node_options options)
    : options_(std::move(options)),
      registry_(options_.harbor),
      modules_(options_.cpath),
      sched_(*this, default_threads(options_.threads), options_.worker_weights),
      start_wall_cs_(wall_cs()) {
  if (options_.profile) nanoseconds_per_cycle();  // calibrate now, not in a worker
  for (auto& [key, value] : options_.env) env_.set(key, value);
}

net::node_sockets& node_impl::sockets() {
  std::call_once(sockets_once_, [this] { sockets_ = std::make_unique<net::node_sockets>(*this); });
  return *sockets_;
}

node_impl::~node_impl() {
  stop();
  std::lock_guard guard(g_closed_logs_lock);
  for (FILE* f : g_closed_logs) std::fclose(f);
  g_closed_logs.clear();
}

void node_impl::start() {
  {
    std::lock_guard guard(state_lock_);
    if (started_) return;
    started_ = true;
  }
  if (!options_.logservice.empty()) {
    std::string error;
    handle_t h = launch(nullptr, options_.logservice, options_.logger, &error, true);
    if (h == 0) throw std::runtime_error("can't launch logger service: " + error);
    logger_.store(h);
    registry_.bind_name("logger", h);
  }
  if (!options_.bootstrap.empty()) {
    std::string_view boot = options_.bootstrap;
    size_t space = boot.find(' ');
    std::string_view module = boot.substr(0, space);
    std::string_view args = space == std::string_view::npos ? "" : boot.substr(space + 1);
    handle_t first = launch(nullptr, module, args, nullptr);
    bootstrap_.store(first);
    if (first == 0) {
      log(0, fmt::format("bootstrap ({}) failed to start: the node exits", options_.bootstrap));
      request_stop(1);
    }
  }
  if (sched_.threads() > 0) {
    threads_quit_.store(false);
    timer_thread_ = std::thread([this] { timer_loop(); });
    if (options_.monitor_interval_s > 0) monitor_thread_ = std::thread([this] { monitor_loop(); });
    sched_.start();
  }
}

int node_impl::wait() {
  {
    std::unique_lock guard(state_lock_);
    state_cv_.wait(guard, [this] { return stop_requested_; });
  }
  stop();
  std::lock_guard guard(state_lock_);
  return exit_code_;
}

void node_impl::request_stop(int exit_code) {
  std::lock_guard guard(state_lock_);
  exit_code_ = std::max(exit_code_, exit_code);
  stop_requested_ = true;
  state_cv_.notify_all();
}

void node_impl::stop() {
  {
    std::lock_guard guard(state_lock_);
    if (stopped_) return;
    stopped_ = true;
    stop_requested_ = true;
    state_cv_.notify_all();
  }
  accepting_.store(false);
  retire_all();
  if (sockets_) sockets_->stop();  // no service is left to own a socket
  {
    std::lock_guard guard(state_lock_);  // so the monitor cannot miss the wake-up
    threads_quit_.store(true);
  }
  state_cv_.notify_all();
  if (timer_thread_.joinable()) timer_thread_.join();
  if (monitor_thread_.joinable()) monitor_thread_.join();
  sched_.stop();
  drain_queues();  // what the services said last reaches the logger
  if (handle_t lg = logger_.load()) retire(lg);
  for (handle_t h : registry_.handles()) retire(h);
  drain_queues();
  if (!options_.pid_file.empty()) ::unlink(options_.pid_file.c_str());
}

void node_impl::drain_queues() {
  while (tern_context* ctx = sched_.pop_any()) run_turn(ctx, 0, nullptr);
}

void node_impl::on_worker_start(int index) {
  pthread_setname_np(pthread_self(), fmt::format("tern-worker-{}", index).c_str());
}

void node_impl::log(handle_t source, std::string_view text) {
  if (handle_t lg = logger_.load()) {
    message m;
    m.source = source;
    m.type = ptype::text;
    m.size = uint32_t(text.size());
    void* dst = m.data();
    if (!m.is_inline()) dst = m.payload.ptr = mem_alloc(text.size());
    std::memcpy(dst, text.data(), text.size());
    if (push(lg, m)) return;
    if (!m.is_inline()) mem_free(m.payload.ptr);
  }
  fmt::print(stderr, "[:{:08x}] {}\n", source, text);
}

void node_impl::deliver_timers() {
  std::vector<timer_event> due;
  timer_.tick(due);
  for (const timer_event& ev : due) {
    message m;
    m.session = ev.session;
    m.type = ptype::response;
    push(ev.handle, m);  // the service may be gone: then there is no one to tell
  }
}

void node_impl::advance_time(uint32_t cs) {
  for (uint32_t i = 0; i < cs; ++i) deliver_timers();
}

void node_impl::timer_loop() {
  pthread_setname_np(pthread_self(), "tern-timer");
  uint64_t last = monotonic_cs();
  while (!threads_quit_.load()) {
    ::usleep(2500);
    uint64_t current = monotonic_cs();
    for (; last < current; ++last) deliver_timers();
    if (g_sighup.exchange(false))
      if (handle_t lg = logger_.load()) send(nullptr, 0, lg, ptype::system, 0, nullptr, 0);
    if (g_sigterm.exchange(false)) request_stop(0);
    sched_.rescue();
  }
}

void node_impl::monitor_loop() {
  pthread_setname_np(pthread_self(), "tern-monitor");
  auto period = std::chrono::seconds(options_.monitor_interval_s);
  for (;;) {
    {
      std::unique_lock guard(state_lock_);
      if (state_cv_.wait_for(guard, period, [this] { return threads_quit_.load(); })) return;
    }
    for (int i = 0; i < sched_.threads(); ++i) {
      monitor_slot& slot = sched_.monitor(i);
      uint32_t version = slot.version.load(std::memory_order_acquire);
      handle_t dst = slot.destination.load(std::memory_order_relaxed);
      if (version != slot.checked_version) {
        slot.checked_version = version;
        continue;
      }
      if (dst == 0) continue;
      handle_t src = slot.source.load(std::memory_order_relaxed);
      log(0, fmt::format("message from :{:08x} to :{:08x} may be in an endless loop (version = {})",
                         src, dst, version));
      registry_.with(dst, [](tern_context* ctx) { ctx->endless.store(true); });
      signal(dst, 0);
    }
  }
}

bool node_impl::signal(handle_t h, int sig) {
  tern_context* target = nullptr;
  registry_.with(h, [&](tern_context* ctx) {
    ctx->refs.fetch_add(1);
    target = ctx;
  });
  if (!target) return false;
  if (target->module && target->module->signal) target->module->signal(target->instance, sig);
  release(target);
  return true;
}

bool node_impl::log_on(handle_t h) {
  std::string path = fmt::format("{}/{:08x}.log", options_.logpath, h);
  return registry_.with(h, [&](tern_context* ctx) {
    if (ctx->logfile.load()) return;
    FILE* f = std::fopen(path.c_str(), "ab");
    if (!f) {
      log(h, fmt::format("can't open {}: {}", path, std::strerror(errno)));
      return;
    }
    fmt::print(f, "open time: {} {}\n", start_wall_cs_ / 100 + now() / 100, now());
    std::fflush(f);
    ctx->logfile.store(f);
  });
}

bool node_impl::log_off(handle_t h) {
  return registry_.with(h, [&](tern_context* ctx) {
    if (FILE* f = ctx->logfile.exchange(nullptr)) {
      fmt::print(f, "close time: {}\n", now());
      std::fflush(f);
      std::lock_guard guard(g_closed_logs_lock);
      g_closed_logs.push_back(f);
    }
  });
}

}  // namespace tern
