// skynet.memory: the process's C heap, for the cmemory service and the debug
// console (skynet reports jemalloc's figures; tern reports glibc malloc's).
#include <malloc.h>

#include <cstdio>
#include <lua.hpp>

namespace {

int ltotal(lua_State* L) {
  struct mallinfo2 mi = mallinfo2();
  lua_pushinteger(L, lua_Integer(mi.uordblks + mi.hblkhd));  // bytes in use
  return 1;
}

int lblock(lua_State* L) {
  struct mallinfo2 mi = mallinfo2();
  lua_pushinteger(L, lua_Integer(mi.ordblks + mi.hblks));  // free chunks + mmapped blocks
  return 1;
}

int ldumpinfo(lua_State*) {
  malloc_stats();  // glibc prints per-arena figures to stderr
  return 0;
}

int linfo(lua_State* L) {
  struct mallinfo2 mi = mallinfo2();
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, lua_Integer(mi.arena));
  lua_setfield(L, -2, "arena");
  lua_pushinteger(L, lua_Integer(mi.uordblks));
  lua_setfield(L, -2, "in_use");
  lua_pushinteger(L, lua_Integer(mi.fordblks));
  lua_setfield(L, -2, "free");
  lua_pushinteger(L, lua_Integer(mi.hblkhd));
  lua_setfield(L, -2, "mmapped");
  return 1;
}

}  // namespace

extern "C" int luaopen_skynet_memory(lua_State* L) {
  luaL_checkversion(L);
  const luaL_Reg functions[] = {
      {"total", ltotal}, {"block", lblock}, {"dumpinfo", ldumpinfo}, {"info", linfo}, {nullptr, nullptr},
  };
  luaL_newlib(L, functions);
  return 1;
}
