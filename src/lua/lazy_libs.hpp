// lazy_libs: Lua's standard libraries for a service state, with the ones most
// services never touch (io, os, math, utf8, debug: about 9 KB per state)
// opened on first use. A global lookup of one of those names, `require` of
// it, or any look at the globals' metatable (getmetatable/setmetatable on
// _G, e.g. strict.lua) opens it, or all of them, so code sees the usual
// environment. Only rawget(_G, "os") before first use tells the difference.
//
// Threading: per lua_State, like everything in Lua.
#pragma once

#include <lua.hpp>

namespace tern::lua {

void open_libs_lazily(lua_State* L);

}  // namespace tern::lua
