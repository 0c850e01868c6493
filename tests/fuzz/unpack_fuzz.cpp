// libFuzzer target for skynet.unpack: arbitrary bytes must either unpack or
// raise a Lua error; never crash, never read outside the input. Whatever
// unpacks is packed again, and those bytes must unpack to as many values.
//
// Build (clang): clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
//   -I include -I src -I/usr/include/lua5.4 tests/fuzz/unpack_fuzz.cpp
//   src/lua/lua_pack.cpp src/core/mem.cpp -llua5.4 -o /tmp/unpack_fuzz
// Seeds: tests/fuzz/corpus/unpack/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <lua.hpp>

#include "lua/lua_pack.hpp"

namespace {

lua_State* fuzz_state() {
  static lua_State* const L = [] {
    lua_State* s = luaL_newstate();
    luaL_openlibs(s);
    return s;
  }();
  return L;
}

// Calls f with copies of the `count` values from stack index `first`; its
// results are pushed on top. Returns false (nothing pushed) on a Lua error.
bool call_on(lua_State* L, lua_CFunction f, int first, int count) {
  int base = lua_gettop(L);
  if (!lua_checkstack(L, count + 2)) return false;
  lua_pushcfunction(L, f);
  for (int i = 0; i < count; ++i) lua_pushvalue(L, first + i);
  if (lua_pcall(L, count, LUA_MULTRET, 0) == LUA_OK) return true;
  lua_settop(L, base);
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lua_State* L = fuzz_state();
  lua_settop(L, 0);

  // The pointer form reads the fuzzer's own exact-size buffer, so ASan sees
  // any read past its end.
  lua_pushlightuserdata(L, const_cast<uint8_t*>(data));
  lua_pushinteger(L, lua_Integer(size));
  bool pointer_ok = call_on(L, tern::lua::unpack, 1, 2);
  lua_settop(L, 0);

  lua_pushlstring(L, reinterpret_cast<const char*>(data), size);
  bool string_ok = call_on(L, tern::lua::unpack, 1, 1);
  if (pointer_ok != string_ok) std::abort();  // both forms read the same bytes
  if (string_ok) {
    int n = lua_gettop(L) - 1;  // the values sit at 2..n+1
    // Packing again may fail (tables nested deeper than pack allows); if it
    // works, the result must unpack to as many values, and so on once more
    // through the string form.
    if (call_on(L, tern::lua::pack, 2, n)) {
      int buffer = lua_gettop(L) - 1;
      bool again = call_on(L, tern::lua::unpack, buffer, 2);
      if (!again || lua_gettop(L) != buffer + 1 + n) std::abort();
      call_on(L, tern::lua::trash, buffer, 2);
      int second = buffer + 2;
      if (!call_on(L, tern::lua::packstring, second, n)) std::abort();
      int top = lua_gettop(L);
      if (!call_on(L, tern::lua::unpack, top, 1) || lua_gettop(L) != top + n) std::abort();
    }
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
