-- The listener of bench/http/skynet_httpd: accepts on 127.0.0.1:bench_port and
-- hands each connection to an agent (round robin); the agent starts it.
local skynet = require "skynet"
local socket = require "skynet.socket"

skynet.start(function()
  local port = assert(tonumber(skynet.getenv "bench_port"), "bench_port")
  local agents = {}
  for i = 1, tonumber(skynet.getenv "agents") or 2 do
    agents[i] = skynet.newservice("hello_agent")
  end
  local n = 0
  local id = socket.listen("127.0.0.1", port, 1024)
  socket.start(id, function(fd, addr)
    n = n % #agents + 1
    skynet.send(agents[n], "lua", fd, addr)
  end)
end)
