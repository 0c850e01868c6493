-- listen + open + echo: read(n), read(), readline (default and custom
-- separators), readall, the accept callback's address, a 1 MiB write arriving
-- whole and in order, netstat, write of a table and of lightuserdata.
local skynet = require "skynet"
local socket = require "skynet.socket"
local driver = require "skynet.socketdriver"
local t = require "testlib"

t.run("test_socket_echo", function()
  local accepted = {}
  local lid, laddr, port = socket.listen("127.0.0.1", 0)
  t.eq(laddr, "127.0.0.1", "listen address")
  t.check(type(port) == "number" and port > 0, "listen port " .. tostring(port))
  socket.start(lid, function(id, addr)
    accepted[#accepted + 1] = addr
    skynet.fork(function()
      socket.start(id)
      while true do
        local data = socket.read(id)
        if not data then break end
        socket.write(id, data)
      end
      socket.close(id)
    end)
  end)

  local c = assert(socket.open("127.0.0.1", port))
  -- read(n) across several writes
  socket.write(c, "hel")
  socket.write(c, "lo world")
  t.eq(socket.read(c, 5), "hello", "read(5)")
  t.eq(socket.read(c, 6), " world", "read(6)")
  -- lines, with the default and a custom separator, split across writes
  socket.write(c, "line one\nline ")
  socket.write(c, "two\r")
  socket.write(c, "\nrest")
  t.eq(socket.readline(c), "line one", "readline")
  t.eq(socket.readline(c, "\r\n"), "line two", "readline crlf")
  t.eq(socket.read(c, 4), "rest", "read after lines")
  -- a table of strings and a lightuserdata buffer
  t.check(socket.write(c, { "ab", "cd", "ef" }), "write table")
  t.check(socket.write(c, driver.str2p("gh")), "write lightuserdata")
  t.eq(socket.read(c, 8), "abcdefgh", "table + pointer echo")
  -- read() returns what is there
  socket.write(c, "xyz")
  local got = ""
  while #got < 3 do got = got .. assert(socket.read(c)) end
  t.eq(got, "xyz", "read()")

  t.eq(#accepted, 1, "accepted connections")
  t.check(accepted[1]:match("^127%.0%.0%.1:%d+$"), "accept addr " .. tostring(accepted[1]))

  -- 1 MiB in one write comes back whole and in order
  local parts = {}
  for i = 1, 16384 do parts[i] = string.format("%063d\n", i) end
  local big = table.concat(parts)
  t.eq(#big, 1024 * 1024, "payload size")
  socket.write(c, big)
  local back = socket.read(c, #big)
  t.check(back == big, "1 MiB echo intact")

  -- netstat lists our sockets
  local seen = {}
  for _, row in ipairs(socket.netstat()) do
    if row.address == skynet.self() then seen[row.id] = row end
  end
  t.check(seen[lid] and seen[lid].type == "LISTEN", "netstat has the listener")
  t.check(seen[c] and seen[c].type == "TCP" and seen[c].read >= #big and seen[c].write >= #big,
    "netstat has the client with its byte counts")

  -- readall: the server echoes, then we half-close by closing our side... use a
  -- server that writes and closes instead.
  local lid2, _, port2 = socket.listen("127.0.0.1", 0)
  socket.start(lid2, function(id)
    skynet.fork(function()
      socket.start(id)
      socket.write(id, "all of ")
      socket.write(id, "this")
      socket.close(id)
    end)
  end)
  local c2 = assert(socket.open("localhost:" .. port2))  -- "host:port" form, a name
  t.eq(socket.readall(c2), "all of this", "readall")
  t.eq(socket.read(c2), false, "read after peer close")
  socket.close(c2)
  t.check(socket.invalid(c2), "closed socket is invalid")

  socket.close(c)
  socket.close(lid)
  socket.close(lid2)
end)
