-- net.echo_gate: the C++ gate frames packets (2-byte length) and hands each one
-- to one of 4 Lua agents (one dispatch per packet), which writes it back framed.
-- This service is the watchdog: it assigns connections to agents.
local skynet = require "skynet"
local netpack = require "skynet.netpack"
local socketdriver = require "skynet.socketdriver"
require "skynet.manager"  -- skynet.launch

local mode = ...

if mode == "agent" then
  -- The gate forwards with the connection id as the packet's source.
  skynet.register_protocol {
    name = "client",
    id = skynet.PTYPE_CLIENT,
    unpack = function(msg, sz) return msg, sz end,
    dispatch = function(_, fd, msg, sz)
      socketdriver.send(fd, netpack.pack(msg, sz))
    end,
  }
  skynet.start(function() end)
  return
end

skynet.start(function()
  local port = assert(tonumber(skynet.getenv "bench_port"), "bench_port")
  local agents = {}
  for i = 1, 4 do agents[i] = skynet.newservice("echo_gate", "agent") end
  local gate
  local n = 0
  skynet.register_protocol {
    name = "text",
    id = skynet.PTYPE_TEXT,
    pack = function(text) return text end,
    unpack = skynet.tostring,
    dispatch = function(_, _, text)
      local id, what = text:match("^(%d+) (%a+)")
      if what == "open" then
        n = n % #agents + 1
        skynet.send(gate, "text", string.format("forward %s %s :%x", id, skynet.address(agents[n]), tonumber(id)))
        skynet.send(gate, "text", "start " .. id)
      end
    end,
  }
  gate = skynet.launch("gate", "S", skynet.address(skynet.self()), "127.0.0.1:" .. port, skynet.PTYPE_CLIENT, 4096)
end)
