#include "tern/core/service.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/clock.hpp"
#include "core/context.hpp"
#include "core/node_impl.hpp"

namespace tern {

namespace {
// The owner of a task started with service::fork(). It registers itself with
// the service, so the service can destroy tasks still waiting when it dies.
struct detached {
  struct promise_type {
    service* owner;
    promise_type(service* s, task<void>&) : owner(s) {
      service_access::add_root(owner, std::coroutine_handle<promise_type>::from_promise(*this));
    }
    ~promise_type() {
      service_access::remove_root(owner, std::coroutine_handle<promise_type>::from_promise(*this));
    }
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept {}
  };
};

detached run_detached(service* s, task<void> t) {
  try {
    co_await t;
  } catch (const std::exception& e) {
    service_access::log(s, fmt::format("exception in a forked task: {}", e.what()));
  } catch (...) {
    service_access::log(s, "unknown exception in a forked task");
  }
}
}  // namespace

service::~service() {
  destroying_ = true;
  for (auto h : roots_) h.destroy();
}

bool service::init(std::string_view) { return true; }
void service::on_message(const message&) {}
void service::on_signal(int) {}

handle_t service::self() const { return ctx_->handle; }

int service::send(handle_t dst, int type, std::string_view data, int session) {
  return ctx_->node->send(ctx_, 0, dst, type, session, const_cast<char*>(data.data()), data.size());
}

int service::send(std::string_view name, int type, std::string_view data, int session) {
  return ctx_->node->send_name(ctx_, 0, name, type, session, const_cast<char*>(data.data()),
                               data.size());
}

void service::reply(const message& request, std::string_view data) {
  send(request.source, ptype::response, data, request.session);
}

void service::reply_error(const message& request) {
  send(request.source, ptype::error, {}, request.session);
}

int service::timeout(int cs) {
  int session = ctx_->new_session();
  ctx_->node->timeout(ctx_->handle, cs, session);
  return session;
}

bool service::name(std::string_view n) {
  if (n.size() < 2 || n[0] != '.') return false;
  return ctx_->node->registry().bind_name(n.substr(1), ctx_->handle);
}

handle_t service::query(std::string_view n) const { return ctx_->node->resolve(n); }

handle_t service::launch(std::string_view module, std::string_view args, std::string* error) {
  return ctx_->node->launch(ctx_, module, args, error);
}

void service::exit() { ctx_->node->retire(ctx_->handle); }
void service::kill(handle_t h) { ctx_->node->retire(h); }
void service::log(std::string_view text) const { ctx_->node->log(ctx_->handle, text); }

std::optional<std::string> service::getenv(std::string_view key) const {
  return ctx_->node->environment().get(key);
}

uint64_t service::now() const { return ctx_->node->now(); }
uint32_t service::starttime() const { return ctx_->node->starttime(); }
uint64_t service::hpc() { return monotonic_ns(); }

bool service::setenv(std::string_view key, std::string_view value) {
  return ctx_->node->environment().set_new(key, value);
}

service::stats service::stat() {
  return stats{ctx_->mq.size(), ctx_->endless.exchange(false),
               double(ctx_->cpu_cycles.load()) * nanoseconds_per_cycle() / 1e9,
               ctx_->message_count.load()};
}

void service::abort() { ctx_->node->abort(0); }
void service::monitor_exits(handle_t watcher) { ctx_->node->set_monitor_exit(watcher); }
bool service::log_on(handle_t h) { return ctx_->node->log_on(h); }
bool service::log_off(handle_t h) { return ctx_->node->log_off(h); }
bool service::signal(handle_t h, int sig) { return ctx_->node->signal(h, sig); }

service::reply_awaiter service::call(handle_t dst, int type, std::string_view data) {
  int session = send(dst, type | ptype::tag_allocsession, data);
  reply_awaiter a{this, session, {}};
  if (session < 0) a.result.data = fmt::format("call to unknown address :{:08x}", dst);
  return a;
}

service::reply_awaiter service::sleep(int cs) { return reply_awaiter{this, timeout(cs), {}}; }

void service::reply_awaiter::await_suspend(std::coroutine_handle<> h) {
  owner->waiters_.push_back(waiter{session, h, &result});
}

void service::fork(task<void> t) { run_detached(this, std::move(t)); }

void service::dispatch(const message& m) {
  if ((m.type == ptype::response || m.type == ptype::error) && resume_waiter(m)) return;
  on_message(m);
}

bool service::resume_waiter(const message& m) {
  auto it = std::find_if(waiters_.begin(), waiters_.end(),
                         [&](const waiter& w) { return w.session == m.session; });
  if (it == waiters_.end()) return false;
  waiter w = *it;
  *it = waiters_.back();
  waiters_.pop_back();
  w.result->type = m.type;
  w.result->data.assign(m.view());
  w.handle.resume();
  return true;
}

int service_access::init(service* s, tern_context* ctx, const char* args) {
  s->ctx_ = ctx;
  ctx->cpp = s;
  try {
    if (s->init(args ? args : "")) return 0;
    ctx->command_result = "init returned false";
  } catch (const std::exception& e) {
    ctx->command_result = e.what();
  } catch (...) {
    ctx->command_result = "unknown exception";
  }
  return 1;
}

void service_access::remove_root(service* s, std::coroutine_handle<> h) {
  if (s->destroying_) return;
  auto& roots = s->roots_;
  auto it = std::find(roots.begin(), roots.end(), h);
  if (it != roots.end()) {
    *it = roots.back();
    roots.pop_back();
  }
}

void service_access::log(service* s, std::string_view text) { s->log(text); }

}  // namespace tern
