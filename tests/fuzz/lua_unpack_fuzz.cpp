// libFuzzer target: skynet.unpack on arbitrary bytes must raise a Lua error
// or return values, never crash or read outside the input. What unpacks is
// packed again (and must unpack to the same number of values).
#include <cstdint>
#include <cstdlib>
#include <lua.hpp>

#include "lua/lua_pack.hpp"

namespace {

lua_State* state() {
  static lua_State* L = [] {
    lua_State* s = luaL_newstate();
    luaL_openlibs(s);
    lua_register(s, "unpack", tern::lua::unpack);
    lua_register(s, "packstring", tern::lua::packstring);
    return s;
  }();
  return L;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lua_State* L = state();
  lua_settop(L, 0);
  lua_getglobal(L, "unpack");
  lua_pushlstring(L, reinterpret_cast<const char*>(data), size);
  if (lua_pcall(L, 1, LUA_MULTRET, 0) == LUA_OK) {
    int n = lua_gettop(L);
    lua_getglobal(L, "packstring");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 1, 0) == LUA_OK) {  // may fail: a table nested too deep to pack
      lua_getglobal(L, "unpack");
      lua_insert(L, 1);
      if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK || lua_gettop(L) != n) std::abort();
    }
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
