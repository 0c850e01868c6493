-- service/gate.lua on snax.gateserver: this service is the watchdog
-- (skynet's "socket" lua messages). Forwarded packets reach an agent
-- (t_gate_agent) as client messages whose session is the fd; the agent echoes
-- through socketdriver.send + netpack.pack. Also: accept (packets to the
-- watchdog), zero-length packets, maxclient, maxpacket (an "error" for that
-- connection only), kick, close.
local skynet = require "skynet"
local socket = require "skynet.socket"
local u = require "t_gate_util"
local t = require "testlib"

local frame, recv = u.frame, u.recv
local events = u.events()

local function expect(kind, what)
  local ev = events.pop()
  t.check(ev, "no event (" .. what .. ")")
  t.eq(ev[1], kind, what)
  return table.unpack(ev, 2)
end

local function connect(port)
  local c = assert(socket.open("127.0.0.1", port))
  local fd, addr = expect("open", "open")
  t.check(type(fd) == "number", "fd")
  t.check(addr:match("^127%.0%.0%.1:%d+$"), "open address " .. tostring(addr))
  return c, fd
end

t.run("test_gate_lua", function()
  skynet.dispatch("lua", function(_, _, cmd, subcmd, ...)
    if cmd == "socket" then events.push({ subcmd, ... }) end
  end)

  local gate = skynet.newservice("gate")
  local addr, port = skynet.call(gate, "lua", "open", {
    address = "127.0.0.1", port = 0, maxclient = 2, nodelay = true, maxpacket = 1000,
  })
  t.eq(addr, "127.0.0.1", "bound address")
  t.check(type(port) == "number" and port > 0, "bound port")

  local c1, fd1 = connect(port)
  local agent = skynet.newservice("t_gate_agent")
  skynet.call(agent, "lua", "start", fd1)
  skynet.call(gate, "lua", "forward", fd1, 0, agent)

  u.dribble(c1, "\0", "\5he", "llo")
  t.eq(recv(c1), "echo:hello", "split packet")
  socket.write(c1, frame("a") .. frame("bb") .. frame("ccc"))
  t.eq(recv(c1), "echo:a", "first of three")
  t.eq(recv(c1), "echo:bb", "second of three")
  t.eq(recv(c1), "echo:ccc", "third of three")
  u.dribble(c1, frame("x") .. "\0\3y", "zz")
  t.eq(recv(c1), "echo:x", "whole before partial")
  t.eq(recv(c1), "echo:yzz", "partial completed")
  socket.write(c1, frame("") .. frame("after empty"))
  t.eq(recv(c1), "echo:", "zero-length packet forwarded")
  t.eq(recv(c1), "echo:after empty", "after the empty one")

  local got = skynet.call(agent, "lua", "received")
  t.eq(#got, 8, "packets the agent got")
  for _, m in ipairs(got) do
    t.eq(m.session, fd1, "session is the fd")
    t.eq(m.source, gate, "client 0: the gate is the source")
  end

  -- accept: packets go to the watchdog.
  local c2, fd2 = connect(port)
  skynet.call(gate, "lua", "accept", fd2)
  socket.write(c2, frame("to the watchdog"))
  local fd, data = expect("data", "data event")
  t.eq(fd, fd2, "data fd")
  t.eq(data, "to the watchdog", "data payload")

  -- maxclient 2: a third is closed, no event.
  local c3 = assert(socket.open("127.0.0.1", port))
  t.check(u.closed(c3), "third connection closed")
  t.eq(events.pop(20), nil, "no event for the refused connection")

  -- maxpacket: c2 gets an error event and is closed; c1 goes on.
  socket.write(c2, "\3\233" .. string.rep("z", 10))
  t.check(u.closed(c2), "oversize closes the connection")
  local efd, text = expect("error", "error event")
  t.eq(efd, fd2, "error fd")
  t.check(text:find("limit of 1000"), "error text " .. tostring(text))
  socket.write(c1, frame("still here"))
  t.eq(recv(c1), "echo:still here", "the other connection works")

  -- Room for one more; a client that closes gives a close event.
  local c4, fd4 = connect(port)
  skynet.call(gate, "lua", "accept", fd4)
  skynet.sleep(2)
  socket.close(c4)
  t.eq(expect("close", "client closed"), fd4, "close fd")

  -- kick
  skynet.call(gate, "lua", "kick", fd1)
  t.check(u.closed(c1), "kicked")
  t.eq(expect("close", "kick"), fd1, "close after kick")

  -- close: no more connections.
  skynet.call(gate, "lua", "close")
  skynet.sleep(5)
  t.check(not socket.open("127.0.0.1", port), "connect after close fails")
  t.eq(events.pop(20), nil, "no stray events")
  skynet.kill(agent)
  skynet.kill(gate)
end)
