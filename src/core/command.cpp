// skynet_command's string interface over the typed node API.
#include <fmt/format.h>

#include <charconv>
#include <cstdlib>

#include "core/clock.hpp"
#include "core/context.hpp"
#include "core/node_impl.hpp"
#include "core/remote_envelope.hpp"

namespace tern {

namespace {
const char* keep(tern_context* ctx, std::string s) {
  ctx->command_result = std::move(s);
  return ctx->command_result.c_str();
}
std::string address(handle_t h) { return fmt::format(":{:08x}", h); }

std::pair<std::string_view, std::string_view> split_first(std::string_view s) {
  size_t space = s.find(' ');
  if (space == std::string_view::npos) return {s, {}};
  return {s.substr(0, space), s.substr(space + 1)};
}
}  // namespace

// REG/NAME of a global name (no leading '.'): in harbor mode the harbor
// service passes it to cslave, which registers it with the master.
bool node_impl::register_global(handle_t self, std::string_view name, handle_t h) {
  handle_t harbor = harbor_service_.load();
  if (!harbor) {
    log(self, fmt::format("can't register global name {}: no harbor in this node", name));
    return false;
  }
  if (name.size() > kMaxGlobalName || name.find(' ') != std::string_view::npos) {
    log(self, fmt::format("can't register global name {}: at most {} bytes, no spaces", name,
                          kMaxGlobalName));
    return false;
  }
  std::string text = fmt::format("R {} {}", name, h);
  return send(nullptr, self, harbor, ptype::harbor, 0, text.data(), text.size()) >= 0;
}

const char* node_impl::command(tern_context* ctx, std::string_view cmd, std::string_view param) {
  handle_t self = ctx ? ctx->handle : 0;
  if (cmd == "TIMEOUT") {
    int cs = std::atoi(std::string(param).c_str());
    int session = ctx->new_session();
    timeout(self, cs, session);
    return keep(ctx, std::to_string(session));
  }
  if (cmd == "REG") {
    if (param.empty()) return keep(ctx, address(self));
    if (param[0] == '.') {
      if (registry_.bind_name(param.substr(1), self)) return keep(ctx, std::string(param));
      log(self, fmt::format("name {} is already taken", param));
      return nullptr;
    }
    if (register_global(self, param, self)) return keep(ctx, std::string(param));
    return nullptr;
  }
  if (cmd == "QUERY") {
    handle_t h = param.size() > 1 && param[0] == '.' ? registry_.find_name(param.substr(1)) : 0;
    return h ? keep(ctx, address(h)) : nullptr;
  }
  if (cmd == "NAME") {
    auto [name, addr] = split_first(param);
    handle_t h = resolve(addr);
    if (name.size() > 1 && name[0] == '.' && h && registry_.bind_name(name.substr(1), h))
      return keep(ctx, std::string(name));
    if (!name.empty() && name[0] != '.' && name[0] != ':' && h)
      return register_global(self, name, h) ? keep(ctx, std::string(name)) : nullptr;
    log(self, fmt::format("can't name {} as {}", addr, name));
    return nullptr;
  }
  if (cmd == "EXIT") {
    retire(self);
    return nullptr;
  }
  if (cmd == "KILL") {
    if (handle_t h = resolve(param)) retire(h);
    return nullptr;
  }
  if (cmd == "LAUNCH") {
    auto [module, args] = split_first(param);
    handle_t h = launch(ctx, module, args, nullptr);
    return h ? keep(ctx, address(h)) : nullptr;
  }
  if (cmd == "GETENV") {
    auto v = env_.get(param);
    return v ? keep(ctx, *v) : nullptr;
  }
  if (cmd == "SETENV") {
    auto [key, value] = split_first(param);
    if (!env_.set_new(key, value)) log(self, fmt::format("can't setenv existing key {}", key));
    return nullptr;
  }
  if (cmd == "STARTTIME") return keep(ctx, std::to_string(starttime()));
  if (cmd == "ABORT") {  // tern: an optional exit status ("ABORT 1")
    abort(param.empty() ? 0 : std::atoi(std::string(param).c_str()));
    return nullptr;
  }
  if (cmd == "MONITOR") {
    if (param.empty()) {
      handle_t m = monitor_exit();
      return m ? keep(ctx, address(m)) : nullptr;
    }
    set_monitor_exit(resolve(param));
    return nullptr;
  }
  if (cmd == "STAT") {
    if (param == "mqlen") return keep(ctx, std::to_string(ctx->mq.size()));
    if (param == "endless") return keep(ctx, ctx->endless.exchange(false) ? "1" : "0");
    if (param == "cpu" || param == "time")
      return keep(ctx, fmt::format("{:.6f}", double(ctx->cpu_cycles.load()) * nanoseconds_per_cycle() / 1e9));
    if (param == "message") return keep(ctx, std::to_string(ctx->message_count.load()));
    return nullptr;
  }
  if (cmd == "LOGON") {
    log_on(resolve(param));
    return nullptr;
  }
  if (cmd == "LOGOFF") {
    log_off(resolve(param));
    return nullptr;
  }
  if (cmd == "SIGNAL") {
    auto [addr, sig] = split_first(param);
    signal(resolve(addr), sig.empty() ? 0 : std::atoi(std::string(sig).c_str()));
    return nullptr;
  }
  log(self, fmt::format("unknown command {}", cmd));
  return nullptr;
}

}  // namespace tern
