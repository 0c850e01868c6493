// skynet.core: the C functions behind lualib/skynet.lua (skynet's
// lua-skynet.c API, our own implementation). Every function runs on the
// worker that runs the calling service.
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/clock.hpp"
#include "lua/lua_pack.hpp"
#include "lua/snlua.hpp"

namespace tern::lua {
namespace {

// Every function of the module has the service's context as upvalue 1 (a
// registry lookup by name per call showed up in profiles).
tern_context* context_of(lua_State* L) {
  auto* ctx = static_cast<tern_context*>(lua_touserdata(L, lua_upvalueindex(1)));
  if (!ctx) luaL_error(L, "skynet.core: no service context (init the service with snlua)");
  return ctx;
}

// The C callback: calls the Lua handler (type, msg, sz, session, source) on a
// thread of its own whose stack holds [traceback, handler, forks, run_forks]
// for good. skynet.lua passes the last two: its fork queue, and the function
// that runs it, called only when the queue is not empty (read here, so the
// common message costs one protected call, not two).
constexpr int kForkQueue = 3, kRunForks = 4;

void log_error(lua_State* L, tern_context* ctx, int session, uint32_t source, size_t sz) {
  const char* err = lua_tostring(L, -1);
  tern_error(ctx, "lua call [%x to %x : %d msgsz = %zu] error : %s", source, tern_context_handle(ctx),
             session, sz, err ? err : "?");
  lua_pop(L, 1);
}

template <bool Forward>
int dispatch(tern_context* ctx, void* ud, int type, int session, uint32_t source, const void* msg,
             size_t sz) {
  auto* L = static_cast<lua_State*>(ud);
  bool with_forks = lua_gettop(L) >= kRunForks;
  lua_pushvalue(L, 2);
  lua_pushinteger(L, type);
  // Forward mode hands ownership of the bytes to Lua (skynet.forward_type).
  lua_pushlightuserdata(L, Forward ? tern_take_message(ctx) : const_cast<void*>(msg));
  lua_pushinteger(L, lua_Integer(sz));
  lua_pushinteger(L, session);
  lua_pushinteger(L, source);
  if (lua_pcall(L, 5, 0, with_forks ? 0 : 1) != LUA_OK) log_error(L, ctx, session, source, sz);
  if (with_forks) {
    lua_getfield(L, kForkQueue, "t");
    bool pending = lua_tointeger(L, -1) > 0;
    lua_pop(L, 1);
    if (pending) {
      lua_pushvalue(L, kRunForks);
      if (lua_pcall(L, 0, 0, 0) != LUA_OK) log_error(L, ctx, session, source, sz);
    }
  }
  return 0;
}

const char kCallbackThreadKey = 0;  // registry key (its address) anchoring the thread

// callback(handler [, forward [, fork_queue, run_forks]])
int lcallback(lua_State* L) {
  tern_context* ctx = context_of(L);
  bool forward = lua_toboolean(L, 2);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  bool with_forks = !lua_isnoneornil(L, 3);
  if (with_forks) {
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TFUNCTION);
  }
  lua_settop(L, 4);
  lua_State* thread = lua_newthread(L);
  lua_pushcfunction(thread, traceback);
  lua_pushvalue(L, 1);
  if (with_forks) {
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 4);
  }
  lua_xmove(L, thread, with_forks ? 3 : 1);  // thread stack: [traceback, handler (, forks, run_forks)]
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kCallbackThreadKey);  // keeps it alive (replaces an older one)
  host_of(L)->active.store(thread);
  tern_callback(ctx, thread, forward ? dispatch<true> : dispatch<false>);
  return 0;
}

int lcommand(lua_State* L) {
  tern_context* ctx = context_of(L);
  const char* cmd = luaL_checkstring(L, 1);
  const char* param = lua_isnoneornil(L, 2) ? nullptr : luaL_checkstring(L, 2);
  const char* result = tern_command(ctx, cmd, param);
  if (!result) return 0;
  lua_pushstring(L, result);
  return 1;
}

int lintcommand(lua_State* L) {
  tern_context* ctx = context_of(L);
  const char* cmd = luaL_checkstring(L, 1);
  std::string param;
  if (lua_isinteger(L, 2))
    param = std::to_string(lua_tointeger(L, 2));
  else if (lua_isnumber(L, 2))
    param = std::to_string(lua_Integer(lua_tonumber(L, 2)));
  else if (!lua_isnoneornil(L, 2))
    param = luaL_checkstring(L, 2);
  const char* result = tern_command(ctx, cmd, param.c_str());
  if (!result) return 0;
  char* end = nullptr;
  double d = std::strtod(result, &end);
  if (end != result && d == double(lua_Integer(d)))
    lua_pushinteger(L, lua_Integer(d));
  else
    lua_pushnumber(L, d);
  return 1;
}

int laddresscommand(lua_State* L) {
  tern_context* ctx = context_of(L);
  const char* cmd = luaL_checkstring(L, 1);
  const char* param = lua_isnoneornil(L, 2) ? nullptr : luaL_checkstring(L, 2);
  const char* result = tern_command(ctx, cmd, param);
  if (!result || result[0] != ':') return 0;
  lua_pushinteger(L, lua_Integer(std::strtoul(result + 1, nullptr, 16)));
  return 1;
}

int lgenid(lua_State* L) {
  tern_context* ctx = context_of(L);
  lua_pushinteger(L, tern_send(ctx, 0, 0, TERN_PTYPE_TAG_ALLOCSESSION, 0, nullptr, 0));
  return 1;
}

// Message body at index i: a string (copied by the runtime) or lightuserdata +
// size (ownership passes: DONTCOPY) or nothing.
struct body {
  void* data = nullptr;
  size_t size = 0;
  int flags = 0;
};
body get_body(lua_State* L, int i) {
  body b;
  switch (lua_type(L, i)) {
    case LUA_TNONE:
    case LUA_TNIL:
      break;
    case LUA_TSTRING: {
      const char* s = lua_tolstring(L, i, &b.size);
      b.data = const_cast<char*>(s);
      break;
    }
    case LUA_TLIGHTUSERDATA:
      b.data = lua_touserdata(L, i);
      b.size = size_t(luaL_checkinteger(L, i + 1));
      b.flags = TERN_PTYPE_TAG_DONTCOPY;
      break;
    default:
      luaL_error(L, "invalid message body: %s", luaL_typename(L, i));
  }
  return b;
}

// Arguments: destination at 1, then type, session (nil: allocate one), body.
int send_from(lua_State* L, uint32_t source, int type_index) {
  tern_context* ctx = context_of(L);
  int type = int(luaL_checkinteger(L, type_index));
  int session = 0;
  if (lua_isnil(L, type_index + 1))
    type |= TERN_PTYPE_TAG_ALLOCSESSION;
  else
    session = int(luaL_checkinteger(L, type_index + 1));
  body b = get_body(L, type_index + 2);
  int result;
  if (lua_type(L, 1) == LUA_TSTRING) {
    result = tern_sendname(ctx, source, lua_tostring(L, 1), type | b.flags, session, b.data, b.size);
  } else {
    auto dest = uint32_t(luaL_checkinteger(L, 1));
    if (dest == 0) {
      if (b.flags) tern_free(b.data);
      return luaL_error(L, "invalid destination address 0");
    }
    result = tern_send(ctx, source, dest, type | b.flags, session, b.data, b.size);
  }
  if (result < 0) return 0;  // unknown destination: nil
  lua_pushinteger(L, result);
  return 1;
}

// send(dest, type, session, msg, sz)
int lsend(lua_State* L) { return send_from(L, 0, 2); }

// redirect(dest, source, type, session, msg, sz)
int lredirect(lua_State* L) { return send_from(L, uint32_t(luaL_checkinteger(L, 2)), 3); }

int lerror(lua_State* L) {
  tern_context* ctx = context_of(L);
  int n = lua_gettop(L);
  std::string text;
  for (int i = 1; i <= n; ++i) {
    if (i > 1) text += ' ';
    text += luaL_tolstring(L, i, nullptr);
    lua_pop(L, 1);
  }
  tern_error(ctx, "%s", text.c_str());
  return 0;
}

int ltostring(lua_State* L) {
  if (lua_isnoneornil(L, 1)) return 0;
  auto* p = static_cast<const char*>(lua_touserdata(L, 1));
  lua_pushlstring(L, p, size_t(luaL_checkinteger(L, 2)));
  return 1;
}

int lharbor(lua_State* L) {
  tern_context* ctx = context_of(L);
  auto addr = uint32_t(luaL_checkinteger(L, 1));
  uint32_t harbor = addr >> 24;
  lua_pushinteger(L, harbor);
  lua_pushboolean(L, harbor != (tern_context_handle(ctx) >> 24));
  return 2;
}

int lnow(lua_State* L) {
  lua_pushinteger(L, lua_Integer(tern_now(context_of(L))));
  return 1;
}

int lhpc(lua_State* L) {
  lua_pushinteger(L, lua_Integer(tern::monotonic_ns()));
  return 1;
}

}  // namespace
}  // namespace tern::lua

extern "C" int luaopen_skynet_core(lua_State* L) {
  using namespace tern::lua;
  luaL_checkversion(L);
  const luaL_Reg functions[] = {
      {"callback", lcallback},   {"command", lcommand},   {"intcommand", lintcommand},
      {"addresscommand", laddresscommand}, {"genid", lgenid}, {"send", lsend},
      {"redirect", lredirect},   {"error", lerror},       {"tostring", ltostring},
      {"harbor", lharbor},       {"now", lnow},           {"hpc", lhpc},
      {"pack", pack},            {"unpack", unpack},      {"packstring", packstring},
      {"trash", trash},          {nullptr, nullptr},
  };
  luaL_newlibtable(L, functions);
  lua_getfield(L, LUA_REGISTRYINDEX, "skynet_context");
  luaL_setfuncs(L, functions, 1);
  return 1;
}
