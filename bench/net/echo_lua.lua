-- net.echo_lua: one Lua service echoes every connection with skynet.socket.
-- net.echo_lua_agents (argument "agents"): it accepts, and 4 agent services echo.
local skynet = require "skynet"
local socket = require "skynet.socket"

local mode = ...
local port = assert(tonumber(skynet.getenv "bench_port"), "bench_port")

local function echo(id)
  socket.start(id)
  while true do
    local data = socket.read(id)
    if not data then break end
    socket.write(id, data)
  end
  socket.close(id)
end

if mode == "agent" then
  skynet.start(function()
    skynet.dispatch("lua", function(_, _, id)
      skynet.fork(echo, id)
      skynet.ret()
    end)
  end)
  return
end

skynet.start(function()
  local agents = {}
  if mode == "agents" then
    for i = 1, 4 do agents[i] = skynet.newservice("echo_lua", "agent") end
  end
  local n = 0
  local listener = socket.listen("127.0.0.1", port, 1024)
  socket.start(listener, function(id)
    if #agents == 0 then
      skynet.fork(echo, id)
    else
      n = n % #agents + 1
      skynet.call(agents[n], "lua", id)  -- the agent starts it: it owns the socket
    end
  end)
end)
