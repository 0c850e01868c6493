// skynet.profile: CPU time of a piece of Lua code that may span yields.
//   profile.start()        starts timing the running coroutine
//   profile.stop() -> sec  stops it and returns the seconds it ran
//   profile.resume / profile.yield: kept for skynet code that calls them.
// Time is the worker thread's CPU clock: every coroutine.resume (snlua's)
// pauses a timed coroutine's clock when it yields and restarts it when it
// runs again, possibly on another worker, so waiting is never counted.
#include <time.h>

#include <lua.hpp>

#include "lua/snlua.hpp"

namespace {

const char kTimingKey = 0;  // registry: weak table coroutine -> {start, total}

double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

void push_timing_table(lua_State* L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kTimingKey) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_newtable(L);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kTimingKey);
}

// Timing record of co: {start (0 while suspended), total}; pushed, or nil.
int get_record(lua_State* L, lua_State* co) {
  push_timing_table(L);
  lua_pushthread(co);
  lua_xmove(co, L, 1);
  int t = lua_rawget(L, -2);
  lua_remove(L, -2);
  return t;
}

int lstart(lua_State* L) {
  lua_State* co = lua_isthread(L, 1) ? lua_tothread(L, 1) : L;
  push_timing_table(L);
  lua_pushthread(co);
  lua_xmove(co, L, 1);
  if (lua_rawget(L, -2) != LUA_TNIL) return luaL_error(L, "profile: thread already started");
  lua_pop(L, 1);
  lua_pushthread(co);
  lua_xmove(co, L, 1);
  lua_createtable(L, 2, 0);
  lua_pushnumber(L, cpu_now());
  lua_rawseti(L, -2, 1);
  lua_pushnumber(L, 0);
  lua_rawseti(L, -2, 2);
  lua_rawset(L, -3);
  tern::lua::host_of(L)->profiling++;
  return 0;
}

int lstop(lua_State* L) {
  lua_State* co = lua_isthread(L, 1) ? lua_tothread(L, 1) : L;
  if (get_record(L, co) != LUA_TTABLE) return luaL_error(L, "profile: thread not started");
  lua_rawgeti(L, -1, 1);
  lua_rawgeti(L, -2, 2);
  double start = lua_tonumber(L, -2), total = lua_tonumber(L, -1);
  if (start > 0) total += cpu_now() - start;
  push_timing_table(L);
  lua_pushthread(co);
  lua_xmove(co, L, 1);
  lua_pushnil(L);
  lua_rawset(L, -3);
  tern::lua::host_of(L)->profiling--;
  lua_pushnumber(L, total);
  return 1;
}

}  // namespace

namespace tern::lua {

// Pauses (start == 0) or restarts the clock of co, if it is timed.
void profile_mark(lua_State* L, lua_State* co, bool running) {
  if (get_record(L, co) == LUA_TTABLE) {
    if (running) {
      lua_pushnumber(L, cpu_now());
      lua_rawseti(L, -2, 1);
    } else {
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      double start = lua_tonumber(L, -2), total = lua_tonumber(L, -1);
      lua_pop(L, 2);
      if (start > 0) total += cpu_now() - start;
      lua_pushnumber(L, total);
      lua_rawseti(L, -2, 2);
      lua_pushnumber(L, 0);
      lua_rawseti(L, -2, 1);
    }
  }
  lua_pop(L, 1);
}

}  // namespace tern::lua

namespace {

int lresume(lua_State* L) {  // coroutine.resume already keeps the clocks
  lua_getglobal(L, "coroutine");
  lua_getfield(L, -1, "resume");
  lua_remove(L, -2);
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

int lyield(lua_State* L) {
  return lua_yield(L, lua_gettop(L));  // the resumer pauses the clock (lresume)
}

}  // namespace

extern "C" int luaopen_skynet_profile(lua_State* L) {
  luaL_checkversion(L);
  const luaL_Reg functions[] = {
      {"start", lstart}, {"stop", lstop}, {"resume", lresume}, {"yield", lyield}, {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  return 1;
}
