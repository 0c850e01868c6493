// The snlua module. Launch follows skynet's order: init copies the argument
// string and sends it to the service itself; the first message runs the
// loader (config `lualoader`), which finds the service file on `luaservice`
// and runs it; the service installs its real callback with skynet.start.
#include "lua/snlua.hpp"

#include "lua/code_cache.hpp"
#include "lua/lazy_libs.hpp"
#include "lua/lua_etcd.hpp"
#include "lua/lua_http.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/context.hpp"
#include "core/node_impl.hpp"

namespace tern::lua {

namespace {

std::string getenv_or(tern_context* ctx, const char* key, const char* fallback) {
  const char* v = tern_command(ctx, "GETENV", key);
  return v ? std::string(v) : std::string(fallback);
}

void* counting_alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* l = static_cast<snlua*>(ud);
  size_t before = l->mem;
  if (ptr) l->mem -= osize;  // for a new block osize is a type tag, not a size
  l->mem += nsize;
  if (nsize == 0) {
    std::free(ptr);
    return nullptr;
  }
  if (l->mem_limit && l->mem > l->mem_limit && (!ptr || nsize > osize)) {
    l->mem = before;  // refused: Lua raises "not enough memory" in this service only
    return nullptr;
  }
  if (l->mem > l->mem_report) {
    l->mem_report *= 2;
    if (l->ctx) tern_error(l->ctx, "Memory warning %.2f M", double(l->mem) / (1024 * 1024));
  }
  return std::realloc(ptr, nsize);
}

// coroutine.resume, recording which coroutine runs so signal() can hook it.
// Written out (like Lua's own) rather than wrapping the original: it runs
// several times per message.
int tracked_resume(lua_State* L) {
  lua_State* co = lua_tothread(L, 1);
  luaL_argexpected(L, co, 1, "coroutine");
  int nargs = lua_gettop(L) - 1;
  if (!lua_checkstack(co, nargs)) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "too many arguments to resume");
    return 2;
  }
  if (lua_status(co) == LUA_OK && lua_gettop(co) == 0) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "cannot resume dead coroutine");
    return 2;
  }
  lua_xmove(L, co, nargs);
  snlua* l = host_of(L);
  lua_State* previous = l->active.exchange(co);
  if (l->profiling) profile_mark(L, co, true);
  int nres = 0;
  int status = lua_resume(co, L, nargs, &nres);
  if (l->profiling) profile_mark(L, co, false);
  l->active.store(previous);
  if (status == LUA_OK || status == LUA_YIELD) {
    if (!lua_checkstack(L, nres + 1)) {
      lua_pop(co, nres);
      lua_pushboolean(L, 0);
      lua_pushliteral(L, "too many results to resume");
      return 2;
    }
    lua_pushboolean(L, 1);
    lua_xmove(co, L, nres);
    return nres + 1;
  }
  lua_pushboolean(L, 0);
  lua_xmove(co, L, 1);  // the error object
  return 2;
}

// print, writing each line with one fwrite so that lines from services on
// different workers (and the logger's) never cut into each other.
int line_print(lua_State* L) {
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; ++i) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, nullptr);
    luaL_addvalue(&b);
  }
  luaL_addchar(&b, '\n');
  luaL_pushresult(&b);
  size_t len = 0;
  const char* line = lua_tolstring(L, -1, &len);
  std::fwrite(line, 1, len, stdout);
  return 0;
}

void interrupt_hook(lua_State* L, lua_Debug*) {
  snlua* l = host_of(L);
  lua_sethook(L, nullptr, 0, 0);
  if (l->trap.exchange(0)) {
    char who[16];  // lua_pushfstring has no %x
    std::snprintf(who, sizeof who, ":%08x", l->ctx ? tern_context_handle(l->ctx) : 0u);
    luaL_error(L, "endless loop in service %s interrupted (signal 0)", who);
  }
}

// Sends "ERROR" to the launcher (text protocol) so a waiting newservice fails.
void report_launch_error(tern_context* ctx) {
  tern_sendname(ctx, 0, ".launcher", TERN_PTYPE_TEXT, 0, const_cast<char*>("ERROR"), 5);
}

int init_lua(snlua* l, tern_context* ctx, const char* args, size_t sz) {
  lua_State* L = l->L;
  lua_gc(L, LUA_GCSTOP, 0);
  open_libs_lazily(L);

  std::string loader = getenv_or(ctx, "lualoader", "./lualib/loader.lua");
  // The loader's directory is the framework's lualib: cached without debug info.
  std::string lualib_dir = loader.substr(0, loader.rfind('/') + 1);
  install_code_cache(L, lualib_dir);
  lua_pushcfunction(L, line_print);
  lua_setglobal(L, "print");

  lua_getglobal(L, "coroutine");
  lua_pushcfunction(L, tracked_resume);
  lua_setfield(L, -2, "resume");
  lua_pop(L, 1);

  lua_pushlightuserdata(L, ctx);
  lua_setfield(L, LUA_REGISTRYINDEX, "skynet_context");
  luaL_requiref(L, "skynet.core", luaopen_skynet_core, 0);
  lua_pop(L, 1);
  // Other built-in C modules load on first require.
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_skynet_memory);
  lua_setfield(L, -2, "skynet.memory");
  lua_pushcfunction(L, luaopen_skynet_profile);
  lua_setfield(L, -2, "skynet.profile");
  lua_pushcfunction(L, luaopen_skynet_socketdriver);
  lua_setfield(L, -2, "skynet.socketdriver");
  lua_pushcfunction(L, luaopen_skynet_netpack);
  lua_setfield(L, -2, "skynet.netpack");
  lua_pushcfunction(L, luaopen_skynet_cluster_core);
  lua_setfield(L, -2, "skynet.cluster.core");
  lua_pushcfunction(L, luaopen_tern_httpcore);
  lua_setfield(L, -2, "tern.httpcore");
  lua_pushcfunction(L, luaopen_tern_etcdcore);
  lua_setfield(L, -2, "tern.etcdcore");
  lua_pop(L, 2);

  std::string path = getenv_or(ctx, "lua_path", "./lualib/?.lua;./lualib/?/init.lua");
  std::string cpath = getenv_or(ctx, "lua_cpath", "./luaclib/?.so");
  std::string service = getenv_or(ctx, "luaservice", "./service/?.lua");
  lua_pushstring(L, path.c_str());
  lua_setglobal(L, "LUA_PATH");
  lua_pushstring(L, cpath.c_str());
  lua_setglobal(L, "LUA_CPATH");
  lua_pushstring(L, service.c_str());
  lua_setglobal(L, "LUA_SERVICE");
  if (const char* preload = tern_command(ctx, "GETENV", "preload")) {
    lua_pushstring(L, preload);
    lua_setglobal(L, "LUA_PRELOAD");
  }

  lua_pushcfunction(L, traceback);
  int tb = lua_gettop(L);
  if (load_file_cached(L, loader.c_str(), lualib_dir) != LUA_OK) {
    tern_error(ctx, "can't load lua loader %s: %s", loader.c_str(), lua_tostring(L, -1));
    return 1;
  }
  lua_pushlstring(L, args, sz);
  if (lua_pcall(L, 1, 0, tb) != LUA_OK) {
    tern_error(ctx, "lua loader error : %s", lua_tostring(L, -1));
    return 1;
  }
  lua_settop(L, 0);

  if (lua_getfield(L, LUA_REGISTRYINDEX, "memlimit") == LUA_TNUMBER) {
    l->mem_limit = size_t(lua_tointeger(L, -1));
    tern_error(ctx, "Set memory limit to %.2f M", double(l->mem_limit) / (1024 * 1024));
  }
  lua_pop(L, 1);
  lua_gc(L, LUA_GCRESTART, 0);
  lua_gc(L, LUA_GCGEN, 0, 0);
  return 0;
}

int launch_cb(tern_context* ctx, void* ud, int, int, uint32_t, const void* msg, size_t sz) {
  auto* l = static_cast<snlua*>(ud);
  tern_callback(ctx, nullptr, nullptr);  // the service installs its own (skynet.start)
  if (init_lua(l, ctx, static_cast<const char*>(msg), sz) != 0) {
    report_launch_error(ctx);
    tern_command(ctx, "EXIT", nullptr);
    // A node whose bootstrap cannot start has nothing to run: stop with status 1.
    if (ctx->node->bootstrap() == ctx->handle) tern_command(ctx, "ABORT", "1");
  }
  return 0;
}

}  // namespace

int traceback(lua_State* L) {
  const char* msg = lua_tostring(L, 1);
  if (msg)
    luaL_traceback(L, L, msg, 1);
  else
    lua_pushliteral(L, "(no error message)");
  return 1;
}

snlua* host_of(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return static_cast<snlua*>(ud);
}

}  // namespace tern::lua

using tern::lua::snlua;

extern "C" {

void* snlua_create() {
  auto* l = new snlua;
  l->L = lua_newstate(tern::lua::counting_alloc, l);
  l->active.store(l->L);
  return l;
}

int snlua_init(void* inst, tern_context* ctx, const char* args) {
  auto* l = static_cast<snlua*>(inst);
  l->ctx = ctx;
  size_t sz = std::strlen(args);
  void* copy = tern_malloc(sz);
  std::memcpy(copy, args, sz);
  tern_callback(ctx, l, tern::lua::launch_cb);
  // The first message runs the Lua side, on a worker, after init returns.
  tern_send(ctx, 0, tern_context_handle(ctx), TERN_PTYPE_TAG_DONTCOPY, 0, copy, sz);
  return 0;
}

void snlua_release(void* inst) {
  auto* l = static_cast<snlua*>(inst);
  l->ctx = nullptr;
  if (l->L) lua_close(l->L);
  delete l;
}

void snlua_signal(void* inst, int sig) {
  auto* l = static_cast<snlua*>(inst);
  if (sig == 0) {
    if (l->trap.exchange(1) == 0)
      lua_sethook(l->active.load(), tern::lua::interrupt_hook, LUA_MASKCOUNT | LUA_MASKCALL | LUA_MASKRET, 1);
  } else if (sig == 1 && l->ctx) {
    tern_error(l->ctx, "Current Memory %.3fK", double(l->mem) / 1024);
  }
}

}  // extern "C"

namespace {
[[maybe_unused]] const bool registered_snlua = (tern::register_builtin_module(
    "snlua", snlua_create, snlua_init, snlua_release, snlua_signal), true);
}
