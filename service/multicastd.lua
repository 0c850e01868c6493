-- multicastd: the channel registry behind skynet.multicast.
local skynet = require "skynet"

local next_id = 0
local subscribers = {}  -- channel id -> { [address] = true }
local command = {}

function command.NEW()
  next_id = next_id + 1
  subscribers[next_id] = {}
  return next_id
end

function command.SUB(source, id)
  local set = subscribers[id]
  if not set then error("no multicast channel " .. tostring(id)) end
  set[source] = true
end

function command.USUB(source, id)
  local set = subscribers[id]
  if set then set[source] = nil end
end

function command.DEL(_, id)
  subscribers[id] = nil
end

function command.PUB(source, id, payload)
  local set = subscribers[id]
  if not set then return end
  local msg = skynet.packstring(id, payload)
  for address in pairs(set) do
    skynet.redirect(address, source, "multicast", 0, msg)
  end
end

skynet.register_protocol { name = "multicast", id = skynet.PTYPE_MULTICAST }

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = assert(command[cmd], "unknown multicast command " .. tostring(cmd))
    local ret = f(source, ...)
    if session ~= 0 then skynet.ret(skynet.pack(ret)) end
  end)
end)
