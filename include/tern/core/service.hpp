// tern::service: the base class of a C++ service.
//
// Threading: the runtime calls init() once on the launching thread, then
// on_message() on one worker at a time (never concurrently), in arrival order.
// on_signal() may run on another thread (the monitor). Every other member is
// for use from inside those callbacks only.
//
//   class echo : public tern::service {
//     void on_message(const tern::message& m) override { reply(m, m.view()); }
//   };
//   TERN_REGISTER_SERVICE(echo, echo)        // built in, or
//   TERN_MODULE(echo, echo)                  // in a shared library on cpath
#pragma once

#include <coroutine>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tern/core/task.hpp"
#include "tern/core/types.hpp"
#include "tern/module_abi.h"

namespace tern {

// The reply to call(): a response, or an error (callee died, unknown address,
// or the callee answered with an error).
struct call_result {
  int type = ptype::error;
  std::string data;
  [[nodiscard]] bool ok() const { return type != ptype::error; }
};

class service {
 public:
  service() = default;
  virtual ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  // Return false or throw to refuse to start; the launcher gets the reason.
  virtual bool init(std::string_view args);
  // Every message that is not the reply to a pending call() or sleep().
  virtual void on_message(const message& m);
  // Signal from the runtime (0: the monitor saw an endless loop). Any thread.
  virtual void on_signal(int signal);

 protected:
  [[nodiscard]] handle_t self() const;
  [[nodiscard]] tern_context* context() const { return ctx_; }

  // Copies data. Returns the session, or -1 if dst does not exist.
  int send(handle_t dst, int type, std::string_view data, int session = 0);
  int send(std::string_view name, int type, std::string_view data, int session = 0);
  void reply(const message& request, std::string_view data);
  void reply_error(const message& request);
  // A response message with the returned session arrives after cs centiseconds.
  int timeout(int cs);

  bool name(std::string_view name);  // ".name": false if taken
  [[nodiscard]] handle_t query(std::string_view name) const;
  handle_t launch(std::string_view module, std::string_view args, std::string* error = nullptr);
  void exit();
  void kill(handle_t h);
  void log(std::string_view text) const;
  [[nodiscard]] std::optional<std::string> getenv(std::string_view key) const;
  bool setenv(std::string_view key, std::string_view value);  // false if the key exists
  [[nodiscard]] uint64_t now() const;        // centiseconds since the node started
  [[nodiscard]] uint32_t starttime() const;  // wall clock at start, seconds
  [[nodiscard]] static uint64_t hpc();       // monotonic nanoseconds (skynet.hpc)

  // The rest of skynet's command set, typed (the string form is tern_command).
  struct stats {
    size_t mqlen;
    bool endless;  // reading it clears the flag, as STAT endless does
    double cpu_seconds;
    uint64_t messages;
  };
  [[nodiscard]] stats stat();
  void abort();                      // ABORT: every service exits, the node stops
  void monitor_exits(handle_t watcher);  // MONITOR: tell watcher when any service exits
  bool log_on(handle_t h);           // LOGON / LOGOFF: per-service message log
  bool log_off(handle_t h);
  bool signal(handle_t h, int sig);  // SIGNAL

  // Coroutines: co_await call(...) inside a task started with fork().
  struct reply_awaiter {
    service* owner;
    int session;
    call_result result;
    bool await_ready() const noexcept { return session < 0; }
    void await_suspend(std::coroutine_handle<> h);
    call_result await_resume() { return std::move(result); }
  };
  reply_awaiter call(handle_t dst, int type, std::string_view data);
  reply_awaiter sleep(int cs);
  void fork(task<void> t);

 private:
  friend struct service_access;
  struct waiter {
    int session;
    std::coroutine_handle<> handle;
    call_result* result;
  };
  void dispatch(const message& m);
  bool resume_waiter(const message& m);

  tern_context* ctx_ = nullptr;
  std::vector<waiter> waiters_;
  std::vector<std::coroutine_handle<>> roots_;  // forked tasks still running
  bool destroying_ = false;
};

// Glue between a service class and the module ABI (used by the macros).
struct service_access {
  static int init(service* s, tern_context* ctx, const char* args);
  static void signal(service* s, int sig) { s->on_signal(sig); }
  static void dispatch(service* s, const message& m) { s->dispatch(m); }
  static void add_root(service* s, std::coroutine_handle<> h) { s->roots_.push_back(h); }
  static void remove_root(service* s, std::coroutine_handle<> h);
  static void log(service* s, std::string_view text);
};

// Registers a C++ service class as a built-in module of every node in this program.
void register_builtin_module(const char* name, void* (*create)(), int (*init)(void*, tern_context*, const char*),
                             void (*release)(void*), void (*signal)(void*, int));

}  // namespace tern

#define TERN_SERVICE_GLUE_(prefix, cls)                                                        \
  void* prefix##_create() { return static_cast<::tern::service*>(new cls()); }                \
  int prefix##_init(void* inst, tern_context* ctx, const char* args) {                        \
    return ::tern::service_access::init(static_cast<::tern::service*>(inst), ctx, args);      \
  }                                                                                           \
  void prefix##_release(void* inst) { delete static_cast<::tern::service*>(inst); }           \
  void prefix##_signal(void* inst, int sig) {                                                 \
    ::tern::service_access::signal(static_cast<::tern::service*>(inst), sig);                 \
  }

// In a shared-library module NAME.so: exports the C ABI for class cls.
#define TERN_MODULE(name, cls)                                          \
  extern "C" {                                                          \
  TERN_SERVICE_GLUE_(name, cls)                                         \
  int name##_abi_version() { return TERN_MODULE_ABI_VERSION; }          \
  }

// In the program itself: a built-in module named #name.
#define TERN_REGISTER_SERVICE(name, cls)                                                 \
  namespace {                                                                            \
  namespace tern_builtin_##name {                                                        \
  TERN_SERVICE_GLUE_(name, cls)                                                          \
  [[maybe_unused]] const bool registered_ =                                              \
      (::tern::register_builtin_module(#name, name##_create, name##_init, name##_release, \
                                       name##_signal),                                   \
       true);                                                                            \
  }                                                                                      \
  }
