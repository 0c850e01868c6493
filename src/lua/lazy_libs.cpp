#include "lua/lazy_libs.hpp"

#include <cstring>

namespace tern::lua {

namespace {

struct lib {
  const char* name;
  lua_CFunction open;
};

constexpr lib kEager[] = {{LUA_GNAME, luaopen_base},          {LUA_LOADLIBNAME, luaopen_package},
                          {LUA_COLIBNAME, luaopen_coroutine}, {LUA_TABLIBNAME, luaopen_table},
                          {LUA_STRLIBNAME, luaopen_string}};
constexpr lib kLazy[] = {{LUA_IOLIBNAME, luaopen_io},
                         {LUA_OSLIBNAME, luaopen_os},
                         {LUA_MATHLIBNAME, luaopen_math},
                         {LUA_UTF8LIBNAME, luaopen_utf8},
                         {LUA_DBLIBNAME, luaopen_debug}};

const char kMetaKey[] = "tern.lazy_libs";

// Opens every lazy library and takes the lazy metatable off _G.
void open_all(lua_State* L) {
  for (const lib& l : kLazy) {
    luaL_requiref(L, l.name, l.open, 1);
    lua_pop(L, 1);
  }
  lua_pushglobaltable(L);
  if (lua_getmetatable(L, -1)) {
    lua_getfield(L, LUA_REGISTRYINDEX, kMetaKey);
    if (lua_rawequal(L, -1, -2)) {
      lua_pushnil(L);
      lua_setmetatable(L, -4);
    }
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
}

// _G's __index: opens a lazy library the first time its name is read.
int globals_index(lua_State* L) {
  if (const char* key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : nullptr) {
    for (const lib& l : kLazy) {
      if (std::strcmp(key, l.name) != 0) continue;
      if (l.open == luaopen_debug) {  // debug can change metatables behind our back
        open_all(L);
        lua_getglobal(L, l.name);
      } else {
        luaL_requiref(L, l.name, l.open, 1);
      }
      return 1;
    }
  }
  lua_pushnil(L);
  return 1;
}

// `require "os"` before any use: the preload entry opens it and sets the global too.
int preload_lazy(lua_State* L) {
  const char* name = luaL_checkstring(L, 1);
  for (const lib& l : kLazy) {
    if (std::strcmp(name, l.name) == 0) {
      if (l.open == luaopen_debug) {
        open_all(L);
        lua_getglobal(L, l.name);
      } else {
        luaL_requiref(L, l.name, l.open, 1);
      }
      return 1;
    }
  }
  return 0;
}

// getmetatable/setmetatable, opening everything first when applied to _G, so
// code that installs its own metatable on _G sees a complete environment.
int guarded_metatable_call(lua_State* L) {
  lua_pushglobaltable(L);
  bool on_globals = lua_rawequal(L, 1, -1);
  lua_pop(L, 1);
  if (on_globals) open_all(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

void guard(lua_State* L, const char* name) {
  lua_getglobal(L, name);
  lua_pushcclosure(L, guarded_metatable_call, 1);
  lua_setglobal(L, name);
}

}  // namespace

void open_libs_lazily(lua_State* L) {
  for (const lib& l : kEager) {
    luaL_requiref(L, l.name, l.open, 1);
    lua_pop(L, 1);
  }
  guard(L, "getmetatable");
  guard(L, "setmetatable");

  lua_getglobal(L, LUA_LOADLIBNAME);
  lua_getfield(L, -1, "preload");
  for (const lib& l : kLazy) {
    lua_pushcfunction(L, preload_lazy);
    lua_setfield(L, -2, l.name);
  }
  lua_pop(L, 2);

  lua_pushglobaltable(L);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, globals_index);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, kMetaKey);
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}

}  // namespace tern::lua
