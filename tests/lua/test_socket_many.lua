-- 100 concurrent connections, each echoing 20 lines, all at once.
local skynet = require "skynet"
local socket = require "skynet.socket"
local t = require "testlib"

local N, LINES = 100, 20

t.run("test_socket_many", function()
  local server = skynet.newservice("t_socket_server")
  local port = skynet.call(server, "lua", "listen", "line")
  local done, failures = 0, {}
  for i = 1, N do
    skynet.fork(function()
      local ok, err = pcall(function()
        local c = assert(socket.open("127.0.0.1", port))
        for j = 1, LINES do
          local msg = string.format("client %d line %d", i, j)
          socket.write(c, msg .. "\n")
          local back = socket.readline(c)
          assert(back == msg, "echo mismatch: " .. tostring(back))
        end
        socket.close(c)
      end)
      if not ok then failures[#failures + 1] = tostring(err) end
      done = done + 1
    end)
  end
  for _ = 1, 3000 do
    if done == N then break end
    skynet.sleep(1)
  end
  t.eq(done, N, "clients finished")
  t.eq(#failures, 0, "failures: " .. table.concat(failures, "; "))
  t.eq(skynet.call(server, "lua", "stats").accepted, N, "server accepted")
end)
