-- UDP: an echo server bound to a free port, a client that udp_connects and
-- writes, sendto with the sender's address, udp_address, udp_listen/udp_dial.
local skynet = require "skynet"
local socket = require "skynet.socket"
local t = require "testlib"

local function port_of(id)
  for _, row in ipairs(socket.netstat()) do
    if row.id == id then return tonumber(row.peer:match(":(%d+)$")) end
  end
end

t.run("test_socket_udp", function()
  local from_seen
  local server
  server = socket.udp(function(data, from)
    from_seen = from
    socket.sendto(server, from, "echo:" .. data)
  end, "127.0.0.1", 0)
  local port = port_of(server)
  t.check(port and port > 0, "server port")

  local replies = {}
  local client = socket.udp(function(data, from)
    local ip, p = socket.udp_address(from)
    replies[#replies + 1] = { data = data, ip = ip, port = p }
  end)
  socket.udp_connect(client, "127.0.0.1", port)
  t.check(socket.write(client, "ping"), "udp write")
  for _ = 1, 200 do
    if #replies > 0 then break end
    skynet.sleep(1)
  end
  t.eq(#replies, 1, "one reply")
  t.eq(replies[1].data, "echo:ping", "reply data")
  t.eq(replies[1].ip, "127.0.0.1", "reply sender ip")
  t.eq(replies[1].port, port, "reply sender port")
  local ip, cport = socket.udp_address(from_seen)
  t.eq(ip, "127.0.0.1", "client address seen by the server")
  t.check(cport > 0, "client port seen by the server")

  -- udp_listen + udp_dial ("host:port" form), several datagrams
  local got = {}
  local l = socket.udp_listen("127.0.0.1", 0, function(data) got[#got + 1] = data end)
  local lport = port_of(l)
  local d = socket.udp_dial("127.0.0.1:" .. lport)
  for i = 1, 5 do socket.write(d, "d" .. i) end
  for _ = 1, 200 do
    if #got == 5 then break end
    skynet.sleep(1)
  end
  table.sort(got)
  t.eq(table.concat(got, ","), "d1,d2,d3,d4,d5", "datagrams")

  -- a bad address is rejected
  t.eq(pcall(socket.udp_address, "xx"), false, "udp_address of garbage")

  socket.close(client)
  socket.close(server)
  socket.close(l)
  socket.close(d)
  t.check(socket.invalid(server), "udp socket closed")
end)
