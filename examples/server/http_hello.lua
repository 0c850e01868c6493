-- tern-server examples/server/http_hello.lua [PORT [MODE [WORKERS]]]
-- "Hello, World!" (13 bytes, text/plain) from an Http server in Lua
-- (swoole's Http\Server API). MODE is "process" (default) or "base".
-- Without arguments: PORT, MODE and WORKERS from the environment
-- (TERN_HTTP_PORT, TERN_HTTP_MODE, TERN_HTTP_WORKERS), else 9501, process, 2.
local server = require "tern.server"

local port = tonumber(arg[1] or os.getenv("TERN_HTTP_PORT") or 9501)
local mode_name = arg[2] or os.getenv("TERN_HTTP_MODE") or "process"
local workers = tonumber(arg[3] or os.getenv("TERN_HTTP_WORKERS") or 2)

local s = server.http("127.0.0.1", port, mode_name == "base" and server.BASE or server.PROCESS)
s:set { worker_num = workers }

s:on("Start", function(s)
  print(string.format("http hello on 127.0.0.1:%d (%s, %d workers, master %d)", port, mode_name,
                      workers, s.master_pid))
end)

s:on("Request", function(req, resp)
  resp:header("Content-Type", "text/plain")
  resp:done("Hello, World!")
end)

s:start()
