-- The Lua service loader (config `lualoader`). snlua runs it with the launch
-- arguments "NAME arg1 arg2 ...": it finds NAME on the LUA_SERVICE patterns,
-- sets package.path/cpath from LUA_PATH/LUA_CPATH, runs LUA_PRELOAD, then
-- the service file with the remaining arguments.
local args = {}
for word in string.gmatch(..., "%S+") do
  args[#args + 1] = word
end

SERVICE_NAME = args[1]
if not SERVICE_NAME then
  error("snlua: no service name given")
end

local main, pattern
local tried = {}
for pat in string.gmatch(LUA_SERVICE, "([^;]+)") do
  local filename = string.gsub(pat, "?", SERVICE_NAME)
  local f, err = loadfile(filename)
  if f then
    main, pattern = f, pat
    break
  end
  tried[#tried + 1] = err
end
if not main then
  error(string.format("can't find service %s:\n\t%s", SERVICE_NAME, table.concat(tried, "\n\t")))
end

package.path, LUA_PATH = LUA_PATH, nil
package.cpath, LUA_CPATH = LUA_CPATH, nil
LUA_SERVICE = nil

-- The service's own directory comes first on package.path (skynet does this
-- for services that live in a folder of their own: service/NAME/main.lua).
local dir = string.match(pattern, "(.*/)[^/?]+$")
if dir then
  dir = string.gsub(dir, "?", SERVICE_NAME)
  package.path = dir .. "?.lua;" .. package.path
  SERVICE_PATH = dir
else
  SERVICE_PATH = string.match(pattern, "(.*/).+$")
end

if LUA_PRELOAD then
  local f = assert(loadfile(LUA_PRELOAD))
  f(table.unpack(args))
  LUA_PRELOAD = nil
end

main(select(2, table.unpack(args)))
