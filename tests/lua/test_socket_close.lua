-- Closing: socket.close wakes a blocked reader with false + the partial data;
-- a peer close makes read/readline return false (+ the rest); write after
-- close returns false; onclose fires; open to a closed port returns nil and
-- a clear error; listen on a port in use raises; a service exiting with an
-- open socket closes it.
local skynet = require "skynet"
local socket = require "skynet.socket"
local t = require "testlib"

-- A listener whose accepted sockets are handed to handler(id) in a fork.
local function server(handler)
  local lid, _, port = socket.listen("127.0.0.1", 0)
  socket.start(lid, function(id)
    skynet.fork(function()
      socket.start(id)
      handler(id)
    end)
  end)
  return lid, port
end

t.run("test_socket_close", function()
  -- 1. close wakes a reader blocked in read(n) with false + partial data.
  local peer
  local lid, port = server(function(id) peer = id end)
  local c = assert(socket.open("127.0.0.1", port))
  while not peer do skynet.sleep(1) end
  socket.write(peer, "part")
  local result
  skynet.fork(function()
    result = table.pack(socket.read(c, 100))
  end)
  -- the reader blocks; wait until the socket thread has read "part" (its DATA
  -- then precedes our CLOSE)
  skynet.yield()
  for _ = 1, 500 do
    local read = 0
    for _, row in ipairs(socket.netstat()) do
      if row.id == c then read = row.read end
    end
    if read >= 4 then break end
    skynet.sleep(1)
  end
  t.check(result == nil, "reader still blocked")
  socket.close(c)
  t.check(result ~= nil, "close returned after the reader woke")
  t.eq(result[1], false, "blocked read after close")
  t.eq(result[2], "part", "partial data after close")
  t.eq(socket.write(c, "x"), false, "write after close")
  t.check(socket.invalid(c), "closed socket is invalid")

  -- 2. peer close: read(n) and readline return false + what was left; onclose fires.
  local closed_by = nil
  socket.write(peer, "tail")  -- the peer may already see our close; either way:
  socket.close(peer)
  local lid2, port2 = server(function(id)
    socket.write(id, "no newline here")
    socket.close(id)
  end)
  local c2 = assert(socket.open("127.0.0.1", port2))
  socket.onclose(c2, function(id) closed_by = id end)
  local ok, rest = socket.readline(c2)
  t.eq(ok, false, "readline on peer close")
  t.eq(rest, "no newline here", "readline leftover")
  t.eq(closed_by, c2, "onclose callback")
  t.eq(socket.read(c2, 1), false, "read after peer close")
  t.check(socket.disconnected(c2), "disconnected")
  t.eq(socket.block(c2), false, "block on closed socket")
  socket.close(c2)

  local lid3, port3 = server(function(id)
    socket.write(id, "12345")
    socket.close(id)
  end)
  local c3 = assert(socket.open("127.0.0.1", port3))
  local r1, r2 = socket.read(c3, 10)
  t.eq(r1, false, "read(10) on peer close")
  t.eq(r2, "12345", "read(10) leftover")
  socket.close(c3)

  -- 3. connect to a port nobody listens on.
  local dead, _, dead_port = socket.listen("127.0.0.1", 0)
  socket.close(dead)
  local id, err = socket.open("127.0.0.1", dead_port)
  t.eq(id, nil, "open to a closed port")
  t.check(type(err) == "string" and err:find("refused", 1, true), "error text: " .. tostring(err))

  -- 4. listen on a port in use raises a clear error.
  local lok, lerr = pcall(socket.listen, "127.0.0.1", port)
  t.eq(lok, false, "listen on a used port")
  t.check(tostring(lerr):find("in use", 1, true), "listen error text: " .. tostring(lerr))

  -- 5. a name that does not resolve: nil + error, without blocking the node.
  local nid, nerr = socket.open("no-such-host.invalid", 80)
  t.eq(nid, nil, "open to an unknown host")
  t.check(type(nerr) == "string" and #nerr > 0, "unknown host error text")

  -- 6. a service that exits with an open socket and unread bytes: the socket
  -- closes (its peer reads false), nothing leaks (the asan build checks).
  local lid4, port4 = server(function(id)
    socket.write(id, string.rep("z", 100000))
    local ok4, rest4 = socket.read(id)
    peer = { ok4, rest4 }
  end)
  peer = nil
  local leaver = skynet.newservice("t_socket_leaver")
  t.eq(skynet.call(leaver, "lua", port4, 100000), "z", "the leaver read one byte")
  for _ = 1, 500 do
    if peer then break end
    skynet.sleep(1)
  end
  t.check(peer and peer[1] == false, "the leaver's socket closed with it")

  socket.close(lid)
  socket.close(lid2)
  socket.close(lid3)
  socket.close(lid4)
end)
