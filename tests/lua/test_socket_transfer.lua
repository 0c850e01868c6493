-- Handing sockets to another service, as a gate does: an accepted socket
-- passed unstarted (the agent's socket.start sees "start"), and one this
-- service started, used, abandoned and passed on (the agent sees "transfer").
local skynet = require "skynet"
local socket = require "skynet.socket"
local t = require "testlib"

t.run("test_socket_transfer", function()
  local agent = skynet.newservice("t_socket_agent")
  local mode = "fresh"
  local handed = {}
  local lid, _, port = socket.listen("127.0.0.1", 0)
  socket.start(lid, function(id)
    skynet.fork(function()
      if mode == "fresh" then
        handed[#handed + 1] = skynet.call(agent, "lua", "serve", id)
      else
        socket.start(id)
        local hello = socket.readline(id)
        socket.write(id, "main:" .. hello .. "\n")
        socket.abandon(id)
        handed[#handed + 1] = skynet.call(agent, "lua", "serve", id)
      end
    end)
  end)

  local c = assert(socket.open("127.0.0.1", port))
  socket.write(c, "one\n")
  t.eq(socket.readline(c), "agent:one", "fresh socket served by the agent")
  socket.close(c)

  mode = "started"
  c = assert(socket.open("127.0.0.1", port))
  socket.write(c, "hello\n")
  t.eq(socket.readline(c), "main:hello", "served here first")
  for _ = 1, 500 do  -- the agent has started it
    if #handed == 2 then break end
    skynet.sleep(1)
  end
  socket.write(c, "two\n")
  t.eq(socket.readline(c), "agent:two", "then by the agent")
  socket.close(c)
  t.eq(#handed, 2, "both handed over")
  t.check(handed[1] and handed[2], "agent started both")
  socket.close(lid)
end)
