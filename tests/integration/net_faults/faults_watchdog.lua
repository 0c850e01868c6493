-- The watchdog of the gate (service/gate.lua): one faults_agent per client,
-- counters for the test ("stats", also through the debug console:
-- `call .watchdog "stats"`), and a log line for every close and error.
local skynet = require "skynet"
require "skynet.manager"

local gate
local agents = {}  -- fd -> agent
local stats = { open = 0, close = 0, error = 0, agents = 0, warning = 0 }

local function close_agent(fd)
  local a = agents[fd]
  agents[fd] = nil
  if a then
    stats.agents = stats.agents - 1
    skynet.call(gate, "lua", "kick", fd)
    skynet.send(a, "lua", "disconnect")
  end
end

local socket_events = {}

function socket_events.open(fd, addr)
  stats.open = stats.open + 1
  local a = skynet.newservice("faults_agent")
  agents[fd] = a
  stats.agents = stats.agents + 1
  skynet.call(a, "lua", "start", gate, fd)
end

function socket_events.close(fd)
  stats.close = stats.close + 1
  skynet.error(string.format("watchdog: client fd %d closed", fd))
  close_agent(fd)
end

function socket_events.error(fd, msg)
  stats.error = stats.error + 1
  skynet.error(string.format("watchdog: client fd %d error: %s", fd, tostring(msg)))
  close_agent(fd)
end

function socket_events.warning(fd, size)
  stats.warning = stats.warning + 1
  skynet.error(string.format("watchdog: client fd %d has %d KiB unsent", fd, size))
end

function socket_events.data() end

local commands = {}

function commands.start(conf)
  gate = skynet.newservice("gate")
  skynet.call(gate, "lua", "open", conf)
end

function commands.stats()
  return stats
end

skynet.start(function()
  skynet.register(".watchdog")
  skynet.dispatch("lua", function(session, _, cmd, subcmd, ...)
    if cmd == "socket" then
      socket_events[subcmd](...)  -- from the gate; no answer expected
    else
      local f = assert(commands[cmd], cmd)
      skynet.ret(skynet.pack(f(subcmd, ...)))
    end
  end)
end)
