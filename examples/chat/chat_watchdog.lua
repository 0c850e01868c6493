-- The watchdog: owns the gate, starts an agent for each client, ends it on close.
local skynet = require "skynet"

local gate, room
local agents = {}  -- fd -> agent

local function close_agent(fd)
  local a = agents[fd]
  agents[fd] = nil
  if a then
    skynet.call(gate, "lua", "kick", fd)
    skynet.send(a, "lua", "disconnect")
  end
end

local socket_events = {}

function socket_events.open(fd, addr)
  local a = skynet.newservice("chat_agent")
  agents[fd] = a
  skynet.call(a, "lua", "start", { gate = gate, client = fd, watchdog = skynet.self(), room = room, addr = addr })
end

function socket_events.close(fd) close_agent(fd) end
function socket_events.error(fd, msg)
  skynet.error("chat: client " .. fd .. " error: " .. tostring(msg))
  close_agent(fd)
end
function socket_events.warning(fd, size)
  skynet.error(string.format("chat: client %d has %d KB unsent", fd, size))
end
function socket_events.data() end  -- packets before an agent took the fd

local commands = {}

function commands.start(conf)
  room = skynet.newservice("chat_room")
  gate = skynet.newservice("gate")
  skynet.call(gate, "lua", "open", conf)
end

function commands.close(fd) close_agent(fd) end

skynet.start(function()
  skynet.dispatch("lua", function(session, _, cmd, subcmd, ...)
    if cmd == "socket" then
      socket_events[subcmd](...)  -- from the gate; no answer expected
    else
      local f = assert(commands[cmd], cmd)
      skynet.ret(skynet.pack(f(subcmd, ...)))
    end
  end)
end)
