#include "core/config.hpp"

#include <algorithm>
#include <array>
#include <lua.hpp>
#include <memory>
#include <string_view>

namespace tern {

namespace {

// Runs in the config's own lua_State with (path, source-or-nil) and returns
// the settings table. Errors carry "file:line:" from Lua itself.
constexpr const char* kLoader = R"lua(
local top_path, top_source = ...
local settings = {}
local current_dir = ""

local function dir_of(path) return path:match("^(.*/)") or "" end

local function expand(text, where)
  return (text:gsub("%$([%w_]+)", function(name)
    local value = os.getenv(name)
    if value == nil then
      error(where .. ": environment variable $" .. name .. " is not set", 0)
    end
    return value
  end))
end

local function run(path, source)
  local saved = current_dir
  current_dir = dir_of(path)
  local chunk, err = load(expand(source, path), "@" .. path, "t", settings)
  if not chunk then error(err, 0) end
  chunk()
  current_dir = saved
end

local function read_source(path, level)
  local f, err = io.open(path, "rb")
  if not f then error("cannot open config file " .. err, level) end
  local source = f:read("a")
  f:close()
  return source
end

local function include(name)
  local path = name:sub(1, 1) == "/" and name or current_dir .. name
  run(path, read_source(path, 3))  -- level 3: the line of the include call
end

setmetatable(settings, { __index = function(_, key)
  if key == "include" then return include end
  return _G[key]
end })
run(top_path, top_source or read_source(top_path, 0))
setmetatable(settings, nil)
return settings
)lua";

constexpr std::array<std::string_view, 25> kKnownKeys = {
    "thread",   "harbor",     "start",     "bootstrap",   "logger",        "logservice",
    "logpath",  "daemon",     "cpath",     "luaservice",  "lualoader",     "lua_path",
    "lua_cpath", "preload",   "profile",   "standalone",  "master",        "address",
    "cluster",  "snax",       "memlimit",  "debug_console", "monitor_interval_s",
    "overload_threshold", "worker_weights"};

struct lua_closer {
  void operator()(lua_State* L) const { lua_close(L); }
};

config_entries run_loader(const std::string& path, const std::string* source,
                          std::vector<std::string>* warnings) {
  std::unique_ptr<lua_State, lua_closer> state(luaL_newstate());
  if (!state) throw config_error("can't create a Lua state for the config");
  lua_State* L = state.get();
  luaL_openlibs(L);
  if (luaL_loadbuffer(L, kLoader, std::char_traits<char>::length(kLoader), "=config-loader") != LUA_OK)
    throw config_error(lua_tostring(L, -1));
  lua_pushstring(L, path.c_str());
  if (source)
    lua_pushlstring(L, source->data(), source->size());
  else
    lua_pushnil(L);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    const char* msg = lua_tostring(L, -1);
    throw config_error(msg ? msg : "error in config " + path);
  }

  config_entries out;
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING)
      throw config_error(path + ": config keys must be names, found a " +
                         luaL_typename(L, -2) + " key");
    std::string key = lua_tostring(L, -2);
    std::string value;
    switch (lua_type(L, -1)) {
      case LUA_TBOOLEAN:
        value = lua_toboolean(L, -1) ? "true" : "false";
        break;
      case LUA_TNUMBER:
      case LUA_TSTRING: {
        size_t len = 0;
        const char* s = luaL_tolstring(L, -1, &len);  // pushes; integers print as "8"
        value.assign(s, len);
        lua_pop(L, 1);
        break;
      }
      default:
        throw config_error(path + ": config key '" + key + "' has a " + luaL_typename(L, -1) +
                           " value; only strings, numbers and booleans are allowed");
    }
    out.emplace_back(std::move(key), std::move(value));
    lua_pop(L, 1);
  }
  std::sort(out.begin(), out.end());
  if (warnings)
    for (const auto& [key, value] : out)
      if (std::find(kKnownKeys.begin(), kKnownKeys.end(), key) == kKnownKeys.end())
        warnings->push_back("unknown config key '" + key + "' (kept, readable with getenv)");
  return out;
}

}  // namespace

config_entries load_config(const std::string& path, std::vector<std::string>* warnings) {
  return run_loader(path, nullptr, warnings);
}

config_entries load_config_string(const std::string& source, const std::string& chunkname,
                                  std::vector<std::string>* warnings) {
  return run_loader(chunkname, &source, warnings);
}

}  // namespace tern
