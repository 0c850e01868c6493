// node_impl: the runtime behind tern::node. It owns the handle registry, the
// module registry, the env, the timer wheel, the scheduler and the three
// helper threads (timer, monitor, and the socket thread on first use).
//
// Threading: send/launch/retire/log/command are thread-safe. run_turn runs on
// a worker (or the deterministic driver). Start-up and stop are for the
// owning thread (main).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/env.hpp"
#include "core/handle_registry.hpp"
#include "core/module_registry.hpp"
#include "core/scheduler.hpp"
#include "core/timer_wheel.hpp"
#include "tern/core/node.hpp"

namespace tern {

namespace net {
class node_sockets;
}

class node_impl {
 public:
  explicit node_impl(node_options options);
  ~node_impl();

  // Lifecycle (owning thread).
  void start();
  int wait();
  void stop();
  void request_stop(int exit_code);  // any thread: ABORT, last service gone, signals

  // Services.
  // daemon: the service does not keep the node alive (the logger).
  handle_t launch(tern_context* caller, std::string_view module, std::string_view args,
                  std::string* error, bool daemon = false);
  bool retire(handle_t h);  // EXIT / KILL
  void retire_all();
  void abort(int exit_code);  // ABORT: stop launching, retire everyone, stop
  void release(tern_context* ctx);  // drops one reference

  // Messages. Returns the session, or -1 (unknown destination; data freed).
  // global_name: a global (harbor) name instead of destination (send_name uses it).
  int send(tern_context* ctx, handle_t source, handle_t destination, int type, int session,
           void* data, size_t size, std::string_view global_name = {});
  int send_name(tern_context* ctx, handle_t source, std::string_view name, int type, int session,
                void* data, size_t size);
  void timeout(handle_t h, int cs, int session);
  [[nodiscard]] handle_t resolve(std::string_view name_or_address) const;

  // Logging through the logger service (stderr before it exists or after it is gone).
  void log(handle_t source, std::string_view text);

  // skynet_command's string form.
  const char* command(tern_context* ctx, std::string_view cmd, std::string_view param);

  // Scheduler callbacks.
  void run_turn(tern_context* ctx, int weight, monitor_slot* monitor);
  void on_worker_start(int index);

  // Deterministic mode.
  bool run_one() { return sched_.run_one(); }
  void advance_time(uint32_t cs);

  [[nodiscard]] uint64_t now() const { return timer_.current_tick(); }
  [[nodiscard]] uint32_t starttime() const { return uint32_t(start_wall_cs_ / 100); }
  [[nodiscard]] const node_options& options() const { return options_; }
  [[nodiscard]] handle_t bootstrap() const { return bootstrap_.load(); }

  // The socket thread, started on first use.
  net::node_sockets& sockets();

  env& environment() { return env_; }
  handle_registry& registry() { return registry_; }
  module_registry& modules() { return modules_; }
  [[nodiscard]] size_t live_services() const { return live_.load(); }
  void set_monitor_exit(handle_t h) { monitor_exit_.store(h); }
  [[nodiscard]] handle_t monitor_exit() const { return monitor_exit_.load(); }
  bool log_on(handle_t h);
  bool log_off(handle_t h);
  bool signal(handle_t h, int sig);

  // Harbor mode: the service that carries messages to other harbors (nodes).
  // attach fails if another one is attached; detach only detaches h.
  bool attach_harbor(handle_t h);
  void detach_harbor(handle_t h);
  [[nodiscard]] handle_t harbor_service() const { return harbor_service_.load(); }

 private:
  bool push(handle_t destination, const message& m);
  // Wraps m (its payload moves) for the harbor service; -1 when there is none.
  int send_remote(message& m, handle_t destination, std::string_view name);
  bool register_global(handle_t self, std::string_view name, handle_t h);
  void dispatch(tern_context* ctx, message& m, monitor_slot* monitor);
  void drop(tern_context* ctx, message& m);  // free + error reply to a requester
  void destroy(tern_context* ctx);
  void deliver_timers();
  void timer_loop();
  void monitor_loop();
  void drain_queues();

  node_options options_;
  env env_;
  handle_registry registry_;
  module_registry modules_;
  timer_wheel timer_;
  scheduler sched_;
  uint64_t start_wall_cs_;

  std::atomic<handle_t> logger_{0};
  std::atomic<handle_t> bootstrap_{0};
  std::atomic<handle_t> monitor_exit_{0};
  std::atomic<handle_t> harbor_service_{0};
  std::atomic<size_t> live_{0};       // every service
  std::atomic<size_t> live_user_{0};  // services that keep the node alive
  std::atomic<bool> accepting_{true};

  std::mutex state_lock_;
  std::condition_variable state_cv_;
  bool started_ = false;
  bool stop_requested_ = false;
  bool stopped_ = false;
  int exit_code_ = 0;
  std::atomic<bool> threads_quit_{false};
  std::thread timer_thread_;
  std::thread monitor_thread_;
  std::once_flag sockets_once_;
  std::unique_ptr<net::node_sockets> sockets_;
};

// Signals (SIGHUP reopens the log file; SIGTERM/SIGINT stop the node) are
// noted by a handler and acted on by the timer thread.
void install_signal_handlers();

}  // namespace tern
