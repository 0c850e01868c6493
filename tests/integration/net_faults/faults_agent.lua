-- One gate client's agent: echoes every packet back as "echo:" .. packet
-- (2-byte big-endian length framing).
local skynet = require "skynet"
local socket = require "skynet.socket"

local fd

skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
  unpack = skynet.tostring,
  dispatch = function(_, _, text)
    socket.write(fd, string.pack(">s2", "echo:" .. text))
  end,
}

local commands = {}

function commands.start(gate, client_fd)
  fd = client_fd
  skynet.call(gate, "lua", "forward", fd)
end

function commands.disconnect()
  skynet.exit()
end

skynet.start(function()
  skynet.dispatch("lua", function(session, _, cmd, ...)
    local f = assert(commands[cmd], cmd)
    if session == 0 then
      f(...)
    else
      skynet.ret(skynet.pack(f(...)))
    end
  end)
end)
