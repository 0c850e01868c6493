// snlua: the module that hosts a Lua service (skynet's snlua). One lua_State
// per service, with an allocator that counts the service's memory.
//
// Threading: everything runs on the worker that runs the service, except
// signal(), which the monitor thread calls to interrupt an endless loop: it
// only sets a debug hook on the running coroutine (lua_sethook is safe to call
// asynchronously, it is how Lua's own interpreter handles Ctrl-C).
#pragma once

#include <lua.hpp>

#include <atomic>
#include <cstddef>

#include "tern/module_abi.h"

namespace tern::lua {

struct snlua {
  lua_State* L = nullptr;
  tern_context* ctx = nullptr;
  size_t mem = 0;
  size_t mem_report = 32u << 20;  // warn when usage passes this; doubles each time
  size_t mem_limit = 0;           // 0 = none (skynet.memlimit)
  std::atomic<lua_State*> active{nullptr};  // the coroutine running right now
  std::atomic<int> trap{0};
  int profiling = 0;  // coroutines timed by skynet.profile (their clocks pause across yields)
};

// skynet.profile: pauses (running = false) or restarts the clock of co if it is timed.
void profile_mark(lua_State* L, lua_State* co, bool running);

// The state's snlua, from the allocator's user data.
snlua* host_of(lua_State* L);

// A message handler for lua_pcall: the error message with a traceback.
int traceback(lua_State* L);

}  // namespace tern::lua

extern "C" int luaopen_skynet_core(lua_State* L);
extern "C" int luaopen_skynet_memory(lua_State* L);
extern "C" int luaopen_skynet_profile(lua_State* L);
extern "C" int luaopen_skynet_socketdriver(lua_State* L);
extern "C" int luaopen_skynet_netpack(lua_State* L);
extern "C" int luaopen_skynet_cluster_core(lua_State* L);  // src/cluster/lua_cluster.cpp
