-- gate: skynet's Lua gate, on snax.gateserver. A watchdog opens it with
-- skynet.call(gate, "lua", "open", conf) (conf.watchdog, default the caller)
-- and hears about connections as "lua" messages:
--   "socket", "open", fd, addr   (then forward or accept it, or it is never read)
--   "socket", "close", fd
--   "socket", "error", fd, text
--   "socket", "warning", fd, size
--   "socket", "data", fd, bytes  (a packet of a connection with no agent)
-- Requests: forward(fd [, client [, agent]]): packets of fd go to agent
-- (default the caller) as "client" messages with session fd and source client;
-- accept(fd): read fd, packets to the watchdog; kick(fd): close it.
-- tern: "open" answers the bound address and port.
local skynet = require "skynet"
local gateserver = require "snax.gateserver"
local netpack = require "skynet.netpack"

local watchdog
local connection = {}  -- fd -> { fd, ip, agent, client }
local forwarding = {}  -- agent -> its connection

skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
}

local handler = {}

function handler.open(source, conf)
  watchdog = conf.watchdog or source
  return conf.address, conf.port
end

function handler.message(fd, msg, sz)
  local c = connection[fd]
  local agent = c.agent
  if agent then
    -- The agent gets the packet's buffer itself (no copy); the session is the fd.
    skynet.redirect(agent, c.client, "client", fd, msg, sz)
  else
    skynet.send(watchdog, "lua", "socket", "data", fd, netpack.tostring(msg, sz))
  end
end

function handler.connect(fd, addr)
  connection[fd] = { fd = fd, ip = addr }
  skynet.send(watchdog, "lua", "socket", "open", fd, addr)
end

local function unforward(c)
  if c.agent then
    forwarding[c.agent] = nil
    c.agent = nil
    c.client = nil
  end
end

local function close_fd(fd)
  local c = connection[fd]
  if c then
    unforward(c)
    connection[fd] = nil
  end
end

function handler.disconnect(fd)
  close_fd(fd)
  skynet.send(watchdog, "lua", "socket", "close", fd)
end

function handler.error(fd, msg)
  close_fd(fd)
  skynet.send(watchdog, "lua", "socket", "error", fd, msg)
end

function handler.warning(fd, size)
  skynet.send(watchdog, "lua", "socket", "warning", fd, size)
end

local CMD = {}

function CMD.forward(source, fd, client, address)
  local c = assert(connection[fd], "unknown fd")
  unforward(c)
  c.client = client or 0
  c.agent = address or source
  forwarding[c.agent] = c
  gateserver.openclient(fd)
end

function CMD.accept(source, fd)
  local c = assert(connection[fd], "unknown fd")
  unforward(c)
  gateserver.openclient(fd)
end

function CMD.kick(source, fd)
  gateserver.closeclient(fd)
end

function handler.command(cmd, source, ...)
  local f = assert(CMD[cmd], cmd)
  return f(source, ...)
end

gateserver.start(handler)
