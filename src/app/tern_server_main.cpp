// tern-server SCRIPT [ARGS...]: runs a Lua script that builds and starts a
// tern.server (swoole's Server). `require "tern.server"` is built in; the
// script's arguments are in `arg` as for the lua interpreter.
#include <lua.hpp>

#include <cstdio>

namespace tern::server {
extern "C" int luaopen_tern_server(lua_State* L);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SCRIPT.lua [ARGS...]\n", argv[0]);
    return 2;
  }
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "tern.server", tern::server::luaopen_tern_server, 0);
  lua_pop(L, 1);
  lua_createtable(L, argc, 1);
  for (int i = 0; i < argc; ++i) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "arg");
  int status = luaL_loadfile(L, argv[1]);
  if (status == LUA_OK) {
    for (int i = 2; i < argc; ++i) lua_pushstring(L, argv[i]);
    status = lua_pcall(L, argc - 2, 0, 0);
  }
  if (status != LUA_OK) {
    std::fprintf(stderr, "tern-server: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return 1;
  }
  lua_close(L);
  return 0;
}
