// code_cache: compiled Lua chunks shared by every service of the process.
// Each Lua service has its own lua_State, and stock Lua 5.4 cannot share
// function prototypes between states, so without this every launch would
// parse lualib/skynet.lua and friends again. The cache keeps each file's
// bytecode (with debug info, so tracebacks keep their lines), keyed by path
// and checked against the file's size and mtime, so edited files reload.
//
// Threading: thread-safe (one mutex around the map); any worker may load.
#pragma once

#include <lua.hpp>

namespace tern::lua {

// Like luaL_loadfilex(L, path, "bt"): pushes the chunk (LUA_OK) or an error message.
int load_file_cached(lua_State* L, const char* path);

// Installs the cache in a state: `loadfile` and the Lua-file searcher of `require`.
void install_code_cache(lua_State* L);

}  // namespace tern::lua
