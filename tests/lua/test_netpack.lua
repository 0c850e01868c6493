-- skynet.netpack over real sockets: a bare netpack server (t_gate_netpack)
-- echoes packets that clients send split across writes, several per write,
-- with the header itself split, of length zero, and near the limit; a length
-- over netpack.max closes only that connection. Also pack/tostring/pop/clear
-- and max() called directly.
local skynet = require "skynet"
local socket = require "skynet.socket"
local netpack = require "skynet.netpack"
local u = require "t_gate_util"
local t = require "testlib"

local frame, recv = u.frame, u.recv

local function count(log, what)
  local n = 0
  for _, line in ipairs(log) do
    if line == what or line:sub(1, #what + 1) == what .. " " then n = n + 1 end
  end
  return n
end

t.run("test_netpack", function()
  -- Direct calls.
  local p, sz = netpack.pack("hello")
  t.eq(sz, 7, "pack size")
  t.eq(netpack.tostring(p, sz), "\0\5hello", "pack bytes (tostring frees)")
  p, sz = netpack.pack(string.rep("x", 65535))
  t.eq(sz, 65537, "largest pack")
  skynet.trash(p, sz)
  t.check(not pcall(netpack.pack, string.rep("x", 65536)), "pack of 64 KiB fails")
  local raw, rsz = netpack.pack("abc")
  local p2, sz2 = netpack.pack(raw, rsz)  -- pointer form; does not free raw
  t.eq(netpack.tostring(p2, sz2), "\0\5\0\3abc", "pack of a pointer")
  t.eq(netpack.tostring(raw, rsz), "\0\3abc", "pointer still valid")
  t.eq(netpack.pop(nil), nil, "pop(nil)")
  netpack.clear(nil)
  t.eq(netpack.max(), 65535, "default max")
  t.check(not pcall(netpack.max, 70000), "max above 65535 refused")

  local server = skynet.newservice("t_gate_netpack")
  local port = skynet.call(server, "lua", "listen", 1000)
  local c1 = assert(socket.open("127.0.0.1", port))
  local c2 = assert(socket.open("127.0.0.1", port))

  -- A packet split across writes, the header too.
  u.dribble(c1, "\0", "\5he", "llo")
  t.eq(recv(c1), "echo:hello", "split packet")
  -- Several packets in one write, then a packet followed by the start of the next.
  socket.write(c1, frame("a") .. frame("bb") .. frame("ccc"))
  t.eq(recv(c1), "echo:a", "first of three")
  t.eq(recv(c1), "echo:bb", "second of three")
  t.eq(recv(c1), "echo:ccc", "third of three")
  u.dribble(c1, frame("x") .. "\0\3y", "zz")
  t.eq(recv(c1), "echo:x", "whole packet before a partial one")
  t.eq(recv(c1), "echo:yzz", "the partial one completed")
  -- Zero-length packets: alone, between others, as the last of a read.
  socket.write(c1, frame(""))
  t.eq(recv(c1), "echo:", "empty packet")
  socket.write(c1, frame("1") .. frame("") .. frame("2") .. frame(""))
  t.eq(recv(c1), "echo:1", "before empty")
  t.eq(recv(c1), "echo:", "empty in the middle")
  t.eq(recv(c1), "echo:2", "after empty")
  t.eq(recv(c1), "echo:", "empty at the end")
  -- The limit itself is fine, one byte at a time for a stretch.
  local big = string.rep("b", 1000)
  local framed = frame(big)
  u.dribble(c1, framed:sub(1, 1), framed:sub(2, 2), framed:sub(3, 500), framed:sub(501))
  t.eq(recv(c1), "echo:" .. big, "packet at the limit")

  -- Two connections interleaving partial packets.
  u.dribble(c1, "\0\4ab")
  u.dribble(c2, "\0\4cd")
  u.dribble(c1, "ef")
  u.dribble(c2, "gh")
  t.eq(recv(c1), "echo:abef", "interleaved 1")
  t.eq(recv(c2), "echo:cdgh", "interleaved 2")

  -- Over the limit: c2 is closed, after a valid packet in the same write that
  -- is dropped with it; c1 goes on.
  socket.write(c2, frame("lost") .. "\3\233" .. string.rep("z", 20))
  t.check(u.closed(c2), "oversize closes the connection")
  socket.write(c1, frame("still here"))
  t.eq(recv(c1), "echo:still here", "the other connection works")

  local log = skynet.call(server, "lua", "log")
  t.eq(count(log, "open"), 2, "open events")
  t.check(count(log, "more") >= 2, "more events: " .. table.concat(log, ", "))
  t.check(count(log, "data") >= 3, "data events")
  local err
  for _, line in ipairs(log) do
    if line:match("^error") then err = line end
  end
  t.check(err and err:find("1001 bytes") and err:find("limit of 1000"), "error text: " .. tostring(err))
  local closes = count(log, "close")

  -- A partial packet left when the client goes: freed on close.
  socket.write(c1, "\0\9abc")
  skynet.sleep(5)
  socket.close(c1)
  skynet.sleep(5)
  log = skynet.call(server, "lua", "log")
  t.eq(closes + count(log, "close"), 2, "close events (the oversize one and c1): " .. table.concat(log, ", "))

  -- A partial packet left when the server exits: freed by the queue's __gc.
  local c3 = assert(socket.open("127.0.0.1", port))
  socket.write(c3, "\0\9abc")
  skynet.sleep(5)
  skynet.call(server, "lua", "stop")
  skynet.kill(server)
  socket.close(c3)
end)
