-- A bare netpack server for test_netpack: listens with socketdriver, cuts
-- packets with netpack.filter and echoes each one as "echo:" .. packet. It
-- keeps a log of what filter returned, for the test to inspect.
local skynet = require "skynet"
local socketdriver = require "skynet.socketdriver"
local netpack = require "skynet.netpack"

local queue
local log = {}  -- strings: "open", "data", "more", "close", "error <text>", ...
local listen_id

local function echo(fd, msg, sz)
  local s = netpack.tostring(msg, sz)
  socketdriver.send(fd, netpack.pack("echo:" .. s))
end

local MSG = {}

function MSG.open(fd, addr)
  log[#log + 1] = "open " .. addr
  socketdriver.start(fd)
end

function MSG.data(fd, msg, sz)
  log[#log + 1] = "data"
  echo(fd, msg, sz)
end

function MSG.more()
  log[#log + 1] = "more"
  for fd, msg, sz in netpack.pop, queue do
    echo(fd, msg, sz)
  end
end

function MSG.close(fd)
  log[#log + 1] = "close"
end

function MSG.error(fd, text)
  log[#log + 1] = "error " .. text
  socketdriver.close(fd)
end

function MSG.warning(fd, size)
  log[#log + 1] = "warning " .. size
end

function MSG.init(fd, text)
  log[#log + 1] = "init " .. text
end

skynet.register_protocol {
  name = "socket",
  id = skynet.PTYPE_SOCKET,
  unpack = function(msg, sz)
    return netpack.filter(queue, msg, sz)
  end,
  dispatch = function(_, _, q, type, ...)
    queue = q
    if type then MSG[type](...) end
  end,
}

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, arg)
    if cmd == "listen" then
      if arg then netpack.max(arg) end
      local id, _, port = socketdriver.listen("127.0.0.1", 0)
      listen_id = id
      socketdriver.start(id)
      skynet.retpack(port)
    elseif cmd == "log" then
      skynet.retpack(log)
      log = {}
    elseif cmd == "stop" then
      socketdriver.close(listen_id)
      skynet.retpack(true)
    end
  end)
end)
