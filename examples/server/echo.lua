-- tern-server examples/server/echo.lua [PORT [MODE [WORKERS [LENGTH]]]]
-- A TCP echo server in Lua on tern.server (swoole's Server API).
-- MODE is "process" (default) or "base"; LENGTH "4" turns on a 4-byte
-- big-endian length header (open_length_check), so onReceive gets one packet.
local server = require "tern.server"

local port = tonumber(arg[1] or 9501)
local mode = (arg[2] == "base") and server.BASE or server.PROCESS
local workers = tonumber(arg[3] or 2)

local s = server.new("127.0.0.1", port, mode)
local settings = { worker_num = workers }
if arg[4] == "4" then
  settings.open_length_check = true
  settings.package_length_type = "N"
  settings.package_length_offset = 0
  settings.package_body_offset = 4
end
s:set(settings)

s:on("Start", function(s)
  print(string.format("echo server on 127.0.0.1:%d (master %d)", port, s.master_pid))
end)

s:on("Receive", function(s, fd, reactor_id, data)
  s:send(fd, data)
end)

s:start()
