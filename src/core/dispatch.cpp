// The message path: send -> mailbox -> scheduler -> run_turn -> dispatch, and
// the life cycle of a service (launch, retire, destroy).
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "net/node_sockets.hpp"
#include "core/clock.hpp"
#include "core/context.hpp"
#include "core/node_impl.hpp"
#include "core/remote_envelope.hpp"
#include "tern/core/service.hpp"

namespace tern {

namespace {
// A message someone waits an answer for. Client packets carry the connection's
// fd as their session (skynet's gate redirects them so) and are never answered.
// An envelope for another node is not a request to the harbor service that
// carries it: the answer comes from the remote service.
bool is_request(const message& m) {
  return m.session > 0 && m.type != ptype::response && m.type != ptype::error &&
         m.type != ptype::client && m.source != 0 && !(m.flags & kMessageRemote);
}

void free_payload(message& m) {
  if (m.flags & kMessageRemote) {
    free_envelope(static_cast<remote_envelope*>(m.payload.ptr));
  } else if (!m.is_inline()) {
    mem_free(m.payload.ptr);
  }
  m.payload.ptr = nullptr;
}

// Removes (who, session) from the list of requests the service owes an answer.
void settle(tern_context* ctx, handle_t who, int32_t session) {
  auto& owed = ctx->owed;
  for (size_t i = owed.size(); i-- > 0;) {
    if (owed[i].first == who && owed[i].second == session) {
      owed[i] = owed.back();
      owed.pop_back();
      return;
    }
  }
}
}  // namespace

// ---- sending ----

bool node_impl::push(handle_t destination, const message& m) {
  bool ok = registry_.with(destination, [&](tern_context* dst) {
    if (dst->mq.push(m)) {
      dst->refs.fetch_add(1, std::memory_order_relaxed);  // the schedule's reference
      sched_.schedule(dst);
    }
  });
  return ok;
}

int node_impl::send(tern_context* ctx, handle_t source, handle_t destination, int type,
                    int session, void* data, size_t size, std::string_view global_name) {
  bool dontcopy = type & ptype::tag_dontcopy;
  if (type & ptype::tag_allocsession) session = ctx ? ctx->new_session() : 0;
  type &= 0xffff;
  if (source == 0 && ctx) source = ctx->handle;
  if (ctx && session != 0) {
    if (type == ptype::response || type == ptype::error)
      settle(ctx, destination, session);
    else if (source != ctx->handle)
      settle(ctx, source, session);  // forwarded on someone's behalf
  }

  message m;
  m.source = source;
  m.session = session;
  m.type = uint16_t(type);
  if (size > UINT32_MAX) {
    log(source, fmt::format("message to :{:08x} is too large ({} bytes)", destination, size));
    if (dontcopy) mem_free(data);
    return -1;
  }
  m.size = uint32_t(size);
  if (m.is_inline()) {
    if (size) std::memcpy(m.payload.bytes, data, size);
    if (dontcopy) mem_free(data);
  } else if (dontcopy) {
    m.payload.ptr = data;
  } else {
    m.payload.ptr = mem_alloc(size);
    std::memcpy(m.payload.ptr, data, size);
  }

  if (!global_name.empty()) return send_remote(m, 0, global_name);
  if (destination == 0) {
    // skynet allows "send to 0" with no data as a way to allocate a session.
    free_payload(m);
    if (size == 0) return session;
    log(source, "can't send a message to address 0");
    return -1;
  }
  if ((destination & ~kHandleMask) != registry_.harbor())
    return send_remote(m, destination, {});
  if (!push(destination, m)) {
    free_payload(m);
    if (!accepting_.load()) return -1;  // shutting down: everyone is leaving, no news
    log(source, fmt::format("drop message from :{:08x} to unknown :{:08x} (type {}, session {}, {} bytes)",
                            source, destination, type, session, size));
    return -1;
  }
  return session;
}

int node_impl::send_remote(message& m, handle_t destination, std::string_view name) {
  handle_t harbor = harbor_service_.load(std::memory_order_acquire);
  if (!harbor || !accepting_.load()) {
    std::string to = destination ? fmt::format(":{:08x}", destination) : std::string(name);
    if (registry_.harbor() == 0)
      log(m.source, fmt::format("can't send to {}: this node has no harbor (harbor = 0)", to));
    else if (accepting_.load())
      log(m.source, fmt::format("can't send to {}: no harbor service (harbor mode needs "
                                "master or standalone in the config)", to));
    free_payload(m);
    return -1;
  }
  void* mem = mem_alloc(sizeof(remote_envelope));
  auto* e = new (mem) remote_envelope;
  e->msg = m;  // the payload moves into the envelope
  e->destination = destination;
  if (!name.empty()) std::memcpy(e->name, name.data(), std::min(name.size(), kMaxGlobalName));
  message out;
  out.source = m.source;
  out.session = m.session;
  out.type = ptype::harbor;  // the real type is inside; never a response to resume
  out.flags = kMessageRemote;
  out.size = uint32_t(sizeof(remote_envelope));
  out.payload.ptr = e;
  if (!push(harbor, out)) {
    free_envelope(e);
    return -1;
  }
  return m.session;
}

int node_impl::send_name(tern_context* ctx, handle_t source, std::string_view name, int type,
                         int session, void* data, size_t size) {
  // A name without '.' or ':' is global in harbor mode: the harbor service
  // knows (or asks the master) where it lives, and queues until then.
  if (!name.empty() && name[0] != '.' && name[0] != ':' && harbor_service_.load()) {
    if (name.size() > kMaxGlobalName) {
      if (type & ptype::tag_dontcopy) mem_free(data);
      log(source ? source : (ctx ? ctx->handle : 0),
          fmt::format("can't send to global name {}: longer than {} bytes", name, kMaxGlobalName));
      return -1;
    }
    return send(ctx, source, 0, type, session, data, size, name);
  }
  handle_t dst = resolve(name);
  if (dst == 0) {
    if (type & ptype::tag_dontcopy) mem_free(data);
    if (accepting_.load())
      log(source ? source : (ctx ? ctx->handle : 0),
          fmt::format("drop message to unknown name {}", name));
    return -1;
  }
  return send(ctx, source, dst, type, session, data, size);
}

handle_t node_impl::resolve(std::string_view s) const {
  if (s.empty()) return 0;
  if (s[0] == ':') return handle_t(std::strtoul(std::string(s.substr(1)).c_str(), nullptr, 16));
  if (s[0] == '.') return registry_.find_name(s.substr(1));
  return registry_.find_name(s);
}

void node_impl::timeout(handle_t h, int cs, int session) {
  if (cs <= 0) {
    message m;
    m.session = session;
    m.type = ptype::response;
    push(h, m);
    return;
  }
  timer_.add(timer_event{h, session}, uint32_t(cs));
}

// ---- running ----

void node_impl::run_turn(tern_context* ctx, int weight, monitor_slot* monitor) {
  message batch[scheduler::kMaxBatch];
  uint32_t overload = 0;
  size_t n = ctx->mq.pop_batch(batch, scheduler::kMaxBatch, weight, &overload);
  if (overload)
    log(ctx->handle, fmt::format("may overload, message queue length = {}", overload));
  uint64_t t0 = options_.profile && n ? cycle_now() : 0;
  for (size_t i = 0; i < n; ++i) dispatch(ctx, batch[i], monitor);
  if (t0) ctx->cpu_cycles.fetch_add(cycle_now() - t0, std::memory_order_relaxed);
  if (ctx->mq.end_turn())
    sched_.requeue(ctx);
  else
    release(ctx);  // the schedule's reference
}

void node_impl::dispatch(tern_context* ctx, message& m, monitor_slot* monitor) {
  if (ctx->retired.load(std::memory_order_relaxed)) {
    drop(ctx, m);
    return;
  }
  if (monitor) monitor->enter(m.source, ctx->handle);
  if (FILE* f = ctx->logfile.load(std::memory_order_relaxed)) {
    fmt::print(f, ":{:08x} {} {} {} ", m.source, m.type, m.session, now());
    const auto* p = static_cast<const unsigned char*>(m.data());
    for (uint32_t i = 0; i < m.size; ++i) fmt::print(f, "{:02x}", p[i]);
    fmt::print(f, "\n");
    std::fflush(f);
  }
  if (is_request(m)) ctx->owed.emplace_back(m.source, m.session);
  ctx->current = &m;
  ctx->current_taken = false;
  try {
    if (ctx->cpp)
      service_access::dispatch(ctx->cpp, m);
    else if (ctx->cb)
      ctx->cb(ctx, ctx->cb_ud, m.type, m.session, m.source, m.data(), m.size);
  } catch (const std::exception& e) {
    log(ctx->handle, fmt::format("exception in message handler (from :{:08x}, type {}, session {}): {}",
                                 m.source, m.type, m.session, e.what()));
  } catch (...) {
    log(ctx->handle, fmt::format("unknown exception in message handler (from :{:08x}, type {})",
                                 m.source, m.type));
  }
  ctx->current = nullptr;
  if (!ctx->current_taken) free_payload(m);
  ctx->message_count.fetch_add(1, std::memory_order_relaxed);
  if (monitor) monitor->leave();
}

void node_impl::drop(tern_context* ctx, message& m) {
  if (m.flags & kMessageRemote) {
    // An envelope the harbor service never read: its requester still waits.
    auto* e = static_cast<remote_envelope*>(m.payload.ptr);
    message inner = e->msg;
    handle_t to = e->destination;
    free_payload(m);
    if (inner.session > 0 && inner.type != ptype::response && inner.type != ptype::error &&
        inner.type != ptype::client && inner.source != 0)
      send(nullptr, to, inner.source, ptype::error, inner.session, nullptr, 0);
    return;
  }
  net::free_socket_message_buffer(m);  // undelivered socket data is nobody's
  free_payload(m);
  if (is_request(m)) {
    settle(ctx, m.source, m.session);
    send(nullptr, ctx->handle, m.source, ptype::error, m.session, nullptr, 0);
  }
}

bool node_impl::attach_harbor(handle_t h) {
  handle_t none = 0;
  return harbor_service_.compare_exchange_strong(none, h);
}

void node_impl::detach_harbor(handle_t h) {
  handle_t expected = h;
  harbor_service_.compare_exchange_strong(expected, 0);
}

// ---- life cycle ----

handle_t node_impl::launch(tern_context* caller, std::string_view module, std::string_view args,
                           std::string* error, bool daemon) {
  std::string why;
  handle_t from = caller ? caller->handle : 0;
  if (!accepting_.load()) {
    why = "the node is shutting down";
  } else if (const module_def* def = modules_.find(module, &why)) {
    void* instance = def->create ? def->create() : nullptr;
    auto* ctx = new tern_context;
    ctx->node = this;
    ctx->module = def;
    ctx->instance = instance;
    ctx->daemon = daemon;
    live_.fetch_add(1);
    if (!ctx->daemon) live_user_.fetch_add(1);
    handle_t h = registry_.insert(ctx);
    // The creation reference belongs to the registry. Take one for the
    // launcher, so the context outlives an init that exits its own service.
    ctx->refs.fetch_add(1);
    std::string arg_copy(args);
    int rc = def->init(instance, ctx, arg_copy.c_str());
    if (rc == 0) {
      // The launcher's reference becomes the schedule's. The mailbox starts
      // scheduled, so whatever was sent during init waited until now.
      sched_.schedule(ctx);
      return h;
    }
    why = fmt::format("init of {} failed{}", module,
                      ctx->command_result.empty() ? "" : ": " + ctx->command_result);
    if (registry_.retire(h)) {  // quietly: it never started, so no exit notice
      ctx->retired.store(true);
      release(ctx);  // the registry's reference
    }
    release(ctx);  // the launcher's
  }
  log(from, fmt::format("FAILED launch {} {}: {}", module, args, why));
  if (error) *error = why;
  return 0;
}

bool node_impl::retire(handle_t h) {
  tern_context* ctx = registry_.retire(h);
  if (!ctx) return false;
  ctx->retired.store(true);
  handle_t watcher = monitor_exit_.load();
  if (watcher == h)
    monitor_exit_.store(0);
  else if (watcher)
    push(watcher, message{h, 0, 0, ptype::client, 0, {nullptr}});  // silently lost if it is gone
  if (h == logger_.load()) logger_.store(0);
  release(ctx);
  return true;
}

void node_impl::retire_all() {
  // Everyone but the logger first, so their last words are still written.
  handle_t logger = logger_.load();
  for (handle_t h : registry_.handles())
    if (h != logger) retire(h);
}

void node_impl::abort(int exit_code) {
  accepting_.store(false);
  retire_all();
  request_stop(exit_code);
}

void node_impl::release(tern_context* ctx) {
  if (ctx->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy(ctx);
}

void node_impl::destroy(tern_context* ctx) {
  if (ctx->module && ctx->module->release) ctx->module->release(ctx->instance);
  message m;
  uint32_t ignored = 0;
  while (ctx->mq.pop_batch(&m, 1, -1, &ignored)) drop(ctx, m);
  for (auto [who, session] : ctx->owed)
    send(nullptr, ctx->handle, who, ptype::error, session, nullptr, 0);
  if (FILE* f = ctx->logfile.exchange(nullptr)) std::fclose(f);
  bool daemon = ctx->daemon;
  delete ctx;
  live_.fetch_sub(1);
  if (!daemon && live_user_.fetch_sub(1) == 1) request_stop(exit_code_);
}

}  // namespace tern
