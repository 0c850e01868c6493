-- skynet.service: a service written as a Lua function inside another file.
-- service.new(name, mainfunc, ...) starts it once per node (later calls get
-- the same address); mainfunc runs in a fresh service, so it may only use
-- globals (its one upvalue must be _ENV).
local skynet = require "skynet"

local service = {}
local cache = {}

local function provider()
  return skynet.uniqueservice "service_provider"
end

local function check(func)
  local i = 1
  while true do
    local name = debug.getupvalue(func, i)
    if name == nil then return end
    if name ~= "_ENV" then
      error(string.format("service main function can't use upvalue %s (only globals)", name), 3)
    end
    i = i + 1
  end
end

function service.new(name, mainfunc, ...)
  if cache[name] then return cache[name] end
  check(mainfunc)
  local address = skynet.call(provider(), "lua", "launch", name, string.dump(mainfunc), ...)
  cache[name] = address
  return address
end

function service.query(name)
  if not cache[name] then
    cache[name] = skynet.call(provider(), "lua", "query", name)
  end
  return cache[name]
end

function service.close(name)
  local address = skynet.call(provider(), "lua", "close", name)
  cache[name] = nil
  if address then skynet.kill(address) end
end

return service
