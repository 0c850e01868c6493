-- The web example's listener: accepts on 127.0.0.1:web_port and hands each
-- connection to one of web_agents agent services (round robin), as skynet's
-- examples/simpleweb.lua does. The agent starts the socket: it owns it.
local skynet = require "skynet"
local socket = require "skynet.socket"

skynet.start(function()
  local port = assert(tonumber(skynet.getenv "web_port"), "web_port")
  local agents = {}
  for i = 1, tonumber(skynet.getenv "web_agents") or 4 do
    agents[i] = skynet.newservice("web_agent")
  end
  local n = 0
  local id = socket.listen("127.0.0.1", port)
  skynet.error("web: listening on http://127.0.0.1:" .. port .. "/ (ws://127.0.0.1:" .. port .. "/ws)")
  socket.start(id, function(fd, addr)
    n = n % #agents + 1
    skynet.send(agents[n], "lua", fd, addr)
  end)
end)
