-- tern-server examples/server/ws_echo.lua [PORT [MODE [WORKERS]]]
-- A WebSocket echo server in Lua (swoole's WebSocket\Server API): every
-- message goes back to its sender with its opcode (text or binary).
-- Without arguments: TERN_WS_PORT, TERN_WS_MODE, TERN_WS_WORKERS from the
-- environment, else 9502, process, 2.
local server = require "tern.server"

local port = tonumber(arg[1] or os.getenv("TERN_WS_PORT") or 9502)
local mode_name = arg[2] or os.getenv("TERN_WS_MODE") or "process"
local workers = tonumber(arg[3] or os.getenv("TERN_WS_WORKERS") or 2)

local s = server.websocket("127.0.0.1", port, mode_name == "base" and server.BASE or server.PROCESS)
s:set { worker_num = workers }

s:on("Start", function(s)
  print(string.format("ws echo on 127.0.0.1:%d (%s, %d workers)", port, mode_name, workers))
end)

s:on("Message", function(s, frame)
  s:push(frame.fd, frame.data, frame.opcode)
end)

s:start()
