-- sharedatad: the store behind skynet.sharedata and skynet.sharetable. Each
-- name holds a packed table and a version; MONITOR answers when the version
-- moves on (or with nil when the name is deleted).
local skynet = require "skynet"

local objects = {}   -- name -> { version = n, data = packed string }
local monitors = {}  -- name -> list of response closures
local command = {}

local function load_value(value, ...)
  if type(value) == "table" then return value end
  assert(type(value) == "string", "sharedata needs a table, Lua source or @filename")
  local chunk
  if value:sub(1, 1) == "@" then
    chunk = assert(loadfile(value:sub(2)))
  else
    chunk = assert(load(value, "=sharedata"))
  end
  local t = chunk(...)
  assert(type(t) == "table", "sharedata source must return a table")
  return t
end

local function notify(name, ...)
  local list = monitors[name]
  monitors[name] = nil
  if list then
    for _, respond in ipairs(list) do respond(true, ...) end
  end
end

function command.NEW(name, value, ...)
  assert(objects[name] == nil, "sharedata " .. tostring(name) .. " exists")
  objects[name] = { version = 1, data = skynet.packstring(load_value(value, ...)) }
end

function command.UPDATE(name, value, ...)
  local obj = objects[name]
  if not obj then return command.NEW(name, value, ...) end
  obj.version = obj.version + 1
  obj.data = skynet.packstring(load_value(value, ...))
  notify(name, obj.data, obj.version)
end

function command.DELETE(name)
  objects[name] = nil
  notify(name, nil)
end

function command.QUERY(name)
  local obj = objects[name]
  if obj then return obj.data, obj.version end
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, name, ...)
    if cmd == "MONITOR" then
      local version = ...
      local obj = objects[name]
      if not obj then
        skynet.ret(skynet.pack(nil))
      elseif obj.version ~= version then
        skynet.ret(skynet.pack(obj.data, obj.version))
      else
        monitors[name] = monitors[name] or {}
        table.insert(monitors[name], skynet.response())
      end
      return
    end
    local f = assert(command[cmd], "unknown sharedata command " .. tostring(cmd))
    skynet.ret(skynet.pack(f(name, ...)))
  end)
end)
