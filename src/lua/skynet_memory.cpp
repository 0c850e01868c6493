// skynet.memory: the process's C heap, for the cmemory service and the debug
// console. Programs that host the runtime link jemalloc (as skynet does), and
// then the figures are jemalloc's; otherwise (sanitizer builds) glibc's.
#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <lua.hpp>

// jemalloc's control interface, present when the program links jemalloc.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));
extern "C" void malloc_stats_print(void (*write_cb)(void*, const char*), void* cbopaque, const char* opts)
    __attribute__((weak));

namespace {

// A jemalloc statistic (size_t), refreshed first; -1 without jemalloc.
int64_t jemalloc_stat(const char* name) {
  if (!mallctl) return -1;
  uint64_t epoch = 1;
  size_t len = sizeof epoch;
  mallctl("epoch", &epoch, &len, &epoch, len);
  size_t value = 0;
  len = sizeof value;
  if (mallctl(name, &value, &len, nullptr, 0) != 0) return -1;
  return int64_t(value);
}

int ltotal(lua_State* L) {
  int64_t allocated = jemalloc_stat("stats.allocated");
  if (allocated < 0) {
    struct mallinfo2 mi = mallinfo2();
    allocated = int64_t(mi.uordblks + mi.hblkhd);
  }
  lua_pushinteger(L, lua_Integer(allocated));  // bytes in use
  return 1;
}

int lblock(lua_State* L) {
  int64_t active = jemalloc_stat("stats.active");  // bytes in active pages
  if (active < 0) {
    struct mallinfo2 mi = mallinfo2();
    active = int64_t(mi.ordblks + mi.hblks);  // free chunks + mmapped blocks
  }
  lua_pushinteger(L, lua_Integer(active));
  return 1;
}

int ldumpinfo(lua_State*) {
  if (malloc_stats_print)
    malloc_stats_print(nullptr, nullptr, nullptr);  // jemalloc writes to stderr
  else
    malloc_stats();  // glibc prints per-arena figures to stderr
  return 0;
}

void set(lua_State* L, const char* key, int64_t value) {
  lua_pushinteger(L, lua_Integer(value));
  lua_setfield(L, -2, key);
}

int linfo(lua_State* L) {
  lua_createtable(L, 0, 4);
  if (mallctl) {
    set(L, "allocated", jemalloc_stat("stats.allocated"));
    set(L, "active", jemalloc_stat("stats.active"));
    set(L, "resident", jemalloc_stat("stats.resident"));
    set(L, "mapped", jemalloc_stat("stats.mapped"));
    return 1;
  }
  struct mallinfo2 mi = mallinfo2();
  set(L, "arena", int64_t(mi.arena));
  set(L, "in_use", int64_t(mi.uordblks));
  set(L, "free", int64_t(mi.fordblks));
  set(L, "mmapped", int64_t(mi.hblkhd));
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
