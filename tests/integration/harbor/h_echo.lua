-- A service for the harbor tests: answers lua requests.
local skynet = require "skynet"

local hanging = {}

local CMD = {}
function CMD.ping(x) return "pong" .. tostring(x) end
function CMD.echo(x) return x end
function CMD.whoami() return skynet.self() end
function CMD.fail() error("boom") end
function CMD.callname(name) return skynet.call(name, "lua", "ping", "back") end
function CMD.hang()
  hanging[#hanging + 1] = skynet.response()  -- never answered
  return nil, true
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local r, noret = CMD[cmd](...)
    if not noret then skynet.retpack(r) end
  end)
end)
