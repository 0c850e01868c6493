-- A service to call across nodes: echoes, stores, keeps a list (order checks),
-- raises, sleeps.
local skynet = require "skynet"

local name = ...
local store = {}
local list = {}
local CMD = {}

function CMD.echo(...) return ... end
function CMD.whoami() return name end
function CMD.store(k, v) store[k] = v end
function CMD.get(k) return store[k] end
function CMD.append(v) list[#list + 1] = v end
function CMD.list()
  local l = list
  list = {}
  return l
end
function CMD.raise(msg) error(msg) end
function CMD.sleep(cs)
  skynet.error("slow call started")
  skynet.sleep(cs)
  return "slept"
end

skynet.start(function()
  skynet.dispatch("lua", function(session, _, cmd, ...)
    local f = assert(CMD[cmd], cmd)
    if session == 0 then
      f(...)
    else
      skynet.retpack(f(...))
    end
  end)
end)
