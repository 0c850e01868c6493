#include "core/config.hpp"

#include <algorithm>
#include <array>
#include <lua.hpp>
#include <memory>
#include <string_view>

namespace tern {

namespace {

// The loader proper, run in the config's own lua_State with (name, source):
// source nil means "read the file name". Returns {key1, value1, key2, ...}
// with every value already a string; sorting is left to C++ because Lua's
// string order follows the C locale's collation.
constexpr char kLoader[] = R"lua(
local top_name, top_source = ...

-- Captured up front so a config that reassigns string.gsub, tostring, ...
-- cannot break the loader (or a later include).
local error, load, pcall, next, type, tostring, setmetatable =
      error, load, pcall, next, type, tostring, setmetatable
local getenv, open = os.getenv, io.open
local gsub, sub, match, format = string.gsub, string.sub, string.match, string.format

local max_depth = 32     -- include nesting; deeper is almost surely a cycle
local settings = {}      -- the _ENV of every chunk, and the result
local current_dir = ""   -- directory of the file being run: "" or ends in "/"
local depth = 0

local function dir_of(path) return match(path, "^(.*/)") or "" end

local function line_at(text, pos)
  local _, newlines = gsub(sub(text, 1, pos - 1), "\n", "")
  return newlines + 1
end

-- $NAME -> os.getenv(NAME), on the source text (so it works anywhere, even
-- outside string literals, as in skynet).
local function expand(text, name)
  return (gsub(text, "()%$([%w_]+)", function(pos, var)
    local value = getenv(var)
    if value == nil then
      error(format("%s:%d: environment variable '%s' is not set",
                   name, line_at(text, pos), var), 0)
    end
    return value
  end))
end

local function read_source(path)
  local f, err = open(path, "rb")
  if not f then
    -- io.open says "path: reason"; the path is already in our message.
    if sub(err, 1, #path + 2) == path .. ": " then err = sub(err, #path + 3) end
    return nil, format("cannot open config file '%s': %s", path, err)
  end
  local source, read_err = f:read("a")
  f:close()
  if not source then
    return nil, format("cannot read config file '%s': %s", path, read_err)
  end
  return source
end

-- Lua shortens chunk names longer than LUA_IDSIZE to "..." plus their tail;
-- put the whole name back so messages start with the real "file:line:".
local function full_name(msg, name)
  if type(msg) ~= "string" or sub(msg, 1, 3) ~= "..." then return msg end
  local shown = match(msg, "^%.%.%.([^\n]-):%d+:")
  if shown and #shown < #name and sub(name, -#shown) == shown then
    return name .. sub(msg, 4 + #shown)
  end
  return msg
end

local function run(name, source)
  -- "@" makes Lua's own messages read "name:line:"; "t" refuses bytecode.
  local chunk, err = load(expand(source, name), "@" .. name, "t", settings)
  if not chunk then error(full_name(err, name), 0) end
  local ok, run_err = pcall(chunk)
  if not ok then error(full_name(run_err, name), 0) end
end

local function include(path)
  if type(path) ~= "string" then
    error("include expects a file name (a string), got a " .. type(path), 2)
  end
  if sub(path, 1, 1) ~= "/" then path = current_dir .. path end
  if depth >= max_depth then
    error(format("include '%s': nested more than %d deep (an include cycle?)",
                 path, max_depth), 2)
  end
  local source, err = read_source(path)
  if not source then error(err, 2) end  -- level 2: the line of the include call
  local saved_dir = current_dir
  current_dir, depth = dir_of(path), depth + 1
  local ok, run_err = pcall(run, path, source)
  current_dir, depth = saved_dir, depth - 1  -- also when the config pcalls include
  if not ok then error(run_err, 0) end
end

-- Reads fall through to `include` and the standard globals; writes land in
-- settings, so neither shows up in the result.
setmetatable(settings, { __index = setmetatable({ include = include }, { __index = _G }) })

if top_source == nil then
  local err
  top_source, err = read_source(top_name)
  if not top_source then error(err, 0) end
end
current_dir = dir_of(top_name)
run(top_name, top_source)

local flat, n = {}, 0
for key, value in next, settings do
  if type(key) ~= "string" then
    error(format("%s: config keys must be names, found a %s key (%s)",
                 top_name, type(key), tostring(key)), 0)
  end
  local kind = type(value)
  if kind == "number" or kind == "boolean" then
    value = tostring(value)  -- integers "8", floats "0.5", "true"/"false"
  elseif kind ~= "string" then
    error(format("%s: config key '%s' has a %s value; only strings, numbers and booleans are allowed",
                 top_name, key, kind), 0)
  end
  flat[n + 1], flat[n + 2] = key, value
  n = n + 2
end
return flat
)lua";

constexpr std::array<std::string_view, 30> kKnownKeys = {
    "thread",     "harbor",      "start",         "bootstrap",          "logger",
    "logservice", "logpath",     "daemon",        "cpath",              "luaservice",
    "lualoader",  "lua_path",    "lua_cpath",     "preload",            "profile",
    "standalone", "master",      "address",       "cluster",            "snax",
    "memlimit",   "debug_console", "monitor_interval_s", "overload_threshold", "worker_weights",
    "cluster_secret", "cluster_max_message",
    "cluster_registry", "cluster_registry_prefix", "cluster_registry_ttl"};

struct lua_state_closer {
  void operator()(lua_State* L) const noexcept { lua_close(L); }
};
using lua_state_ptr = std::unique_ptr<lua_State, lua_state_closer>;

struct loader_args {
  const std::string* name;
  const std::string* source;  // null: read the file `name`
};

// Runs under lua_pcall, so every Lua error (even out of memory while opening
// the libraries) comes back as a status instead of a longjmp through C++
// frames. It holds no C++ objects with destructors and throws nothing.
int run_loader(lua_State* L) {
  const auto* args = static_cast<const loader_args*>(lua_touserdata(L, 1));
  luaL_openlibs(L);
  if (luaL_loadbufferx(L, kLoader, sizeof kLoader - 1, "=tern config loader", "t") != LUA_OK)
    return lua_error(L);
  lua_pushlstring(L, args->name->data(), args->name->size());
  if (args->source)
    lua_pushlstring(L, args->source->data(), args->source->size());
  else
    lua_pushnil(L);
  lua_call(L, 2, 1);
  return 1;
}

std::string string_at(lua_State* L, int index) {
  size_t len = 0;
  const char* s = lua_tolstring(L, index, &len);  // only called on strings: no conversion
  return std::string(s, len);
}

config_entries load(const std::string& name, const std::string* source,
                    std::vector<std::string>* warnings) {
  lua_state_ptr state(luaL_newstate());
  if (!state) throw config_error(name + ": cannot create a Lua state to run the config");
  lua_State* L = state.get();

  loader_args args{&name, source};
  lua_pushcfunction(L, run_loader);  // light C function and light userdata: no allocation
  lua_pushlightuserdata(L, &args);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    // Always a string unless the config itself raised error(<non-string>).
    if (lua_type(L, -1) == LUA_TSTRING) throw config_error(string_at(L, -1));
    throw config_error(name + ": the config raised a " + luaL_typename(L, -1) + " as its error");
  }

  // The loader returned a flat array of strings; raw reads cannot raise.
  config_entries out;
  const auto n = static_cast<lua_Integer>(lua_rawlen(L, -1));
  out.reserve(static_cast<size_t>(n / 2));
  for (lua_Integer i = 1; i + 1 <= n; i += 2) {
    lua_rawgeti(L, -1, i);
    lua_rawgeti(L, -2, i + 1);
    out.emplace_back(string_at(L, -2), string_at(L, -1));
    lua_pop(L, 2);
  }
  std::sort(out.begin(), out.end());

  if (warnings)
    for (const auto& entry : out)
      if (std::find(kKnownKeys.begin(), kKnownKeys.end(), entry.first) == kKnownKeys.end())
        warnings->push_back("unknown config key '" + entry.first + "' (kept, readable with getenv)");
  return out;
}

}  // namespace

config_entries load_config(const std::string& path, std::vector<std::string>* warnings) {
  return load(path, nullptr, warnings);
}

config_entries load_config_string(const std::string& source, const std::string& chunkname,
                                  std::vector<std::string>* warnings) {
  return load(chunkname, &source, warnings);
}

}  // namespace tern
