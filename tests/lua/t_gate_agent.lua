-- An agent for the gate tests: every "client" message is recorded and echoed
-- to its connection as a 2-byte framed "echo:" .. packet.
local skynet = require "skynet"
local socketdriver = require "skynet.socketdriver"
local netpack = require "skynet.netpack"

local fd
local got = {}

skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
  unpack = skynet.tostring,
  dispatch = function(session, source, msg)
    skynet.ignoreret()  -- the gate's session is not a request
    got[#got + 1] = { session = session, source = source, msg = msg }
    if fd then socketdriver.send(fd, netpack.pack("echo:" .. msg)) end
  end,
}

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, arg)
    if cmd == "start" then
      fd = arg
      skynet.retpack(true)
    elseif cmd == "received" then
      skynet.retpack(got)
      got = {}
    end
  end)
end)
