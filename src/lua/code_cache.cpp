#include "lua/code_cache.hpp"

#include <sys/stat.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace tern::lua {

namespace {

struct entry {
  off_t size;
  struct timespec mtime;
  std::shared_ptr<const std::string> bytecode;  // loads run outside the lock
};

std::mutex g_lock;
std::unordered_map<std::string, entry> g_cache;

std::string_view strip_dir_of(lua_State* L) {
  size_t len = 0;
  const char* dir = lua_tolstring(L, lua_upvalueindex(1), &len);
  return {dir, len};
}

int collect(lua_State*, const void* p, size_t sz, void* ud) {
  static_cast<std::string*>(ud)->append(static_cast<const char*>(p), sz);
  return 0;
}

bool same_file(const entry& e, const struct stat& st) {
  return e.size == st.st_size && e.mtime.tv_sec == st.st_mtim.tv_sec &&
         e.mtime.tv_nsec == st.st_mtim.tv_nsec;
}

// loadfile(filename [, mode [, env]]) with the cache for the common case.
int cached_loadfile(lua_State* L) {
  const char* path = luaL_optstring(L, 1, nullptr);
  const char* mode = luaL_optstring(L, 2, "bt");
  int env = lua_isnone(L, 3) ? 0 : 3;
  int status = (path && std::string(mode).find('b') != std::string::npos)
                   ? load_file_cached(L, path, strip_dir_of(L))
                   : luaL_loadfilex(L, path, mode);
  if (status != LUA_OK) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  if (env) {  // the new chunk's first upvalue is its _ENV
    lua_pushvalue(L, env);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
  }
  return 1;
}

// package.searchers[2]: finds name on package.path and loads it through the cache.
int cached_searcher(lua_State* L) {
  const char* name = luaL_checkstring(L, 1);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchpath");
  lua_pushstring(L, name);
  lua_getfield(L, -3, "path");
  lua_call(L, 2, 2);  // -> filename or nil, message
  if (lua_isnil(L, -2)) return 1;  // the "no file" message
  const char* filename = lua_tostring(L, -2);
  if (load_file_cached(L, filename, strip_dir_of(L)) != LUA_OK)
    return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, filename,
                      lua_tostring(L, -1));
  lua_pushstring(L, filename);  // second argument to the loader
  return 2;
}

}  // namespace

int load_file_cached(lua_State* L, const char* path, std::string_view strip_dir) {
  struct stat st {};
  if (::stat(path, &st) != 0) return luaL_loadfilex(L, path, "bt");  // Lua words the error
  std::string chunkname = std::string("@") + path;
  std::shared_ptr<const std::string> code;
  {
    std::lock_guard guard(g_lock);
    auto it = g_cache.find(path);
    if (it != g_cache.end() && same_file(it->second, st)) code = it->second.bytecode;
  }
  if (code) return luaL_loadbufferx(L, code->data(), code->size(), chunkname.c_str(), "b");

  int status = luaL_loadfilex(L, path, "bt");
  if (status != LUA_OK) return status;
  bool strip = !strip_dir.empty() && std::string_view(path).starts_with(strip_dir);
  auto bytecode = std::make_shared<std::string>();
  if (lua_dump(L, collect, bytecode.get(), strip) != 0) return LUA_OK;  // not cached
  if (strip) {  // this state gets the stripped form too, like every later one
    lua_pop(L, 1);
    status = luaL_loadbufferx(L, bytecode->data(), bytecode->size(), chunkname.c_str(), "b");
    if (status != LUA_OK) return status;
  }
  std::lock_guard guard(g_lock);
  g_cache[path] = entry{st.st_size, st.st_mtim, std::move(bytecode)};
  return LUA_OK;
}

void install_code_cache(lua_State* L, std::string_view strip_dir) {
  lua_pushlstring(L, strip_dir.data(), strip_dir.size());
  lua_pushcclosure(L, cached_loadfile, 1);
  lua_setglobal(L, "loadfile");
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  lua_pushlstring(L, strip_dir.data(), strip_dir.size());
  lua_pushcclosure(L, cached_searcher, 1);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
}

}  // namespace tern::lua
