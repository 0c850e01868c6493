// tern::node: one process's actor runtime (skynet's node). Embed it, or run the
// `tern CONFIG` binary that wraps it.
//
// Threading: every method is thread-safe except run_one/run_until_idle/
// advance_time, which are for the deterministic mode (threads == 0) and are
// called by one thread (a test) that drives all delivery itself.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tern/core/service.hpp"
#include "tern/core/types.hpp"

namespace tern {

class node_impl;

struct node_options {
  int threads = -1;              // workers; -1 = one per core; 0 = deterministic mode
  uint32_t harbor = 1;           // high 8 bits of every handle
  std::string cpath = "./cservice/?.so";
  std::string logger;            // log file; empty = stdout
  std::string logservice = "logger";
  std::string logpath = ".";     // directory for LOGON files
  std::string bootstrap;         // "module args" launched by start(); empty = none
  std::string pid_file;          // removed on exit (daemon mode writes it)
  int monitor_interval_s = 5;    // endless-loop check period; 0 = off
  bool profile = true;           // measure time spent in callbacks
  std::vector<int> worker_weights;  // per worker; see docs/architecture.md
  std::vector<std::pair<std::string, std::string>> env;  // getenv values
};

// Builds options from a loaded config (keys as in skynet's config).
node_options options_from_config(const std::vector<std::pair<std::string, std::string>>& config);

class node {
 public:
  explicit node(node_options options = {});
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // Adds a C++ service class as a module of this node only.
  template <class T>
  void add_service_type(const std::string& name) {
    add_module(name, [] { return static_cast<void*>(static_cast<service*>(new T())); },
               [](void* inst) { delete static_cast<service*>(inst); });
  }

  // Starts the logger, the bootstrap service and the threads.
  void start();
  // Blocks until the node stops: the last service exited, ABORT, or stop().
  // Returns the exit status (0, or 1 when the bootstrap failed).
  int wait();
  // Stops the node: releases every service and joins the threads. Idempotent.
  void stop();

  handle_t launch(std::string_view module, std::string_view args, std::string* error = nullptr);
  // Sends from outside any service (source may be 0). Returns the session or -1.
  int send(handle_t source, handle_t destination, int type, int session, std::string_view data);
  bool kill(handle_t h);

  [[nodiscard]] size_t service_count() const;
  [[nodiscard]] handle_t find_name(std::string_view name) const;
  [[nodiscard]] std::optional<std::string> getenv(std::string_view key) const;
  [[nodiscard]] uint64_t now() const;

  // Deterministic mode: deliver one message / everything queued / advance timers.
  bool run_one();
  size_t run_until_idle(size_t max_messages = SIZE_MAX);
  void advance_time(uint32_t cs);

  node_impl& impl() { return *impl_; }

 private:
  void add_module(const std::string& name, void* (*create)(), void (*release)(void*));
  std::unique_ptr<node_impl> impl_;
};

}  // namespace tern
