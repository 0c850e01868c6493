// tern_context: one running service (skynet's skynet_context).
//
// Threading: `handle`, `node`, `module`, `instance` are fixed after launch.
// The handler fields, `session_id`, `owed`, `current*` belong to the worker that
// runs the service (one at a time). The atomics may be read from anywhere.
// Lifetime: reference counted. The registry holds one reference until the
// service is retired; a scheduled mailbox holds one; anyone else who keeps the
// pointer past a registry lookup takes one. The last release destroys it.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/mailbox.hpp"
#include "tern/core/types.hpp"
#include "tern/module_abi.h"

namespace tern {
class node_impl;
class service;
struct module_def;
}  // namespace tern

struct tern_context {
  tern::node_impl* node = nullptr;
  tern::handle_t handle = 0;
  std::atomic<int> refs{1};
  tern::mailbox mq;
  tern_context* next_scheduled = nullptr;  // link in the global run queue

  const tern::module_def* module = nullptr;
  void* instance = nullptr;
  tern_cb cb = nullptr;
  void* cb_ud = nullptr;
  tern::service* cpp = nullptr;  // set instead of cb for C++ services

  int32_t session_id = 0;
  bool daemon = false;  // does not keep the node alive (the logger)
  std::atomic<bool> retired{false};
  std::atomic<bool> endless{false};
  std::atomic<uint64_t> cpu_cycles{0};  // time in callbacks, in cycle_now() units
  std::atomic<uint64_t> message_count{0};
  std::atomic<FILE*> logfile{nullptr};

  // Requests received and not yet answered: each gets an error reply if the
  // service goes away first, so no caller waits forever.
  std::vector<std::pair<tern::handle_t, int32_t>> owed;

  tern::message* current = nullptr;  // the message being handled
  bool current_taken = false;
  std::string command_result;

  int32_t new_session() {
    session_id = session_id == INT32_MAX ? 1 : session_id + 1;  // wraps, never 0
    return session_id;
  }
};
