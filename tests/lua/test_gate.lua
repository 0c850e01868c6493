-- The C gate (built-in module "gate", skynet's service_gate): this service is
-- the watchdog. Clients connect with skynet.socket; packets of a forwarded
-- connection reach an agent (t_gate_agent) as client messages and the agent
-- echoes through socketdriver.send + netpack.pack. Also: a connection with no
-- agent reports its packets to the watchdog, zero-length packets are skipped,
-- max connections, max packet size, kick, PTYPE_CLIENT writes, 'L' headers,
-- broker, close.
local skynet = require "skynet"
require "skynet.manager"
local socket = require "skynet.socket"
local u = require "t_gate_util"
local t = require "testlib"

local frame, recv = u.frame, u.recv
local reports = u.events()

skynet.register_protocol {
  name = "text",
  id = skynet.PTYPE_TEXT,
  pack = function(...) return table.concat({ ... }, " ") end,
  unpack = skynet.tostring,
  dispatch = function(_, _, text) reports.push(text) end,
}
skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
  pack = function(s) return s end,
}

-- Launches a gate on a free port (tries a few random ones).
local function launch_gate(header, max_conn, max_packet)
  for _ = 1, 20 do
    local port = math.random(20000, 59999)
    local gate = skynet.launch("gate", header, skynet.address(skynet.self()), "127.0.0.1:" .. port,
      skynet.PTYPE_CLIENT, max_conn, max_packet)
    if gate then return gate, port end
  end
  error("no free port for the gate")
end

-- The next report, which must match pattern; returns the captures.
local function expect(pattern, what)
  local r = reports.pop()
  t.check(r, "no report (" .. what .. ")")
  local caps = { r:match(pattern) }
  t.check(#caps > 0, what .. ": report " .. r .. " does not match " .. pattern)
  return table.unpack(caps)
end

local function connect(port)
  local c = assert(socket.open("127.0.0.1", port))
  local fd, fd2, addr = expect("^(%d+) open (%d+) (.+)$", "open")
  t.eq(fd, fd2, "open report repeats the id")
  t.check(addr:match("^127%.0%.0%.1:%d+:0$"), "open address " .. addr)
  return c, tonumber(fd)
end

t.run("test_gate", function()
  t.check(skynet.launch("gate", "X", skynet.address(skynet.self()), "127.0.0.1:1", 3, 2) == nil,
    "bad header style refused")
  t.check(skynet.launch("gate", "S", ".nobody", "127.0.0.1:1", 3, 2) == nil, "unknown watchdog refused")
  t.check(skynet.launch("gate", "S", "!", "127.0.0.1:1", 3) == nil, "max connections required")

  local gate, port = launch_gate("S", 2, 1000)
  local c1, fd1 = connect(port)
  local agent = skynet.newservice("t_gate_agent")
  skynet.call(agent, "lua", "start", fd1)
  skynet.send(gate, "text", "forward", fd1, skynet.address(agent), skynet.address(skynet.self()))
  skynet.send(gate, "text", "start", fd1)

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
  t.eq(recv(c1), "echo:after empty", "zero-length packet skipped")
  local big = string.rep("q", 1000)
  socket.write(c1, frame(big))
  t.eq(recv(c1), "echo:" .. big, "packet at the limit")

  local got = skynet.call(agent, "lua", "received")
  t.eq(#got, 8, "packets the agent got")
  for _, m in ipairs(got) do
    t.eq(m.source, skynet.self(), "source is the client address")
    t.eq(m.session, 0, "session")
  end

  -- PTYPE_CLIENT to the gate: written to the connection named by the last 4 bytes.
  skynet.send(gate, "client", "raw!" .. string.pack("<I4", fd1))
  t.eq(socket.read(c1, 4), "raw!", "client message written as is")

  -- A connection with no agent: packets go to the watchdog.
  local c2, fd2 = connect(port)
  skynet.send(gate, "text", "start", fd2)
  socket.write(c2, frame("to the watchdog"))
  local fd, payload = expect("^(%d+) data (.*)$", "data report")
  t.eq(tonumber(fd), fd2, "data report id")
  t.eq(payload, "to the watchdog", "data report payload")

  -- Max connections (2): a third is closed at once, nothing reported.
  local c3 = assert(socket.open("127.0.0.1", port))
  t.check(u.closed(c3), "third connection closed")
  t.eq(reports.pop(20), nil, "no report for the refused connection")

  -- Oversize on c2: only c2 goes.
  socket.write(c2, "\3\233" .. string.rep("z", 10))
  t.check(u.closed(c2), "oversize closes the connection")
  t.eq(tonumber(expect("^(%d+) close$", "close after oversize")), fd2, "close report id")
  socket.write(c1, frame("still here"))
  t.eq(recv(c1), "echo:still here", "the other connection works")

  -- Room for one more now.
  local c4, fd4 = connect(port)
  skynet.send(gate, "text", "start", fd4)  -- an unstarted connection is not watched
  skynet.sleep(2)
  socket.close(c4)
  t.eq(tonumber(expect("^(%d+) close$", "client closed")), fd4, "close report for c4")

  -- kick
  skynet.send(gate, "text", "kick", fd1)
  t.check(u.closed(c1), "kicked")
  t.eq(tonumber(expect("^(%d+) close$", "kick")), fd1, "close report for the kicked one")

  -- close: no more connections accepted.
  skynet.send(gate, "text", "close")
  skynet.sleep(5)
  local c5 = socket.open("127.0.0.1", port)
  t.check(not c5, "connect after close fails")
  skynet.kill(gate)

  -- 'L' headers, default limit 16 MiB - 1, and a broker.
  local lgate, lport = launch_gate("L", 4)
  local l1, lfd1 = connect(lport)
  local agent2 = skynet.newservice("t_gate_agent")
  skynet.call(agent2, "lua", "start", lfd1)
  skynet.send(lgate, "text", "forward", lfd1, skynet.address(agent2), ":0")
  skynet.send(lgate, "text", "start", lfd1)
  local long = frame("four bytes", true)
  u.dribble(l1, long:sub(1, 3), long:sub(4, 6), long:sub(7))
  t.eq(recv(l1), "echo:four bytes", "'L' header")
  socket.write(l1, frame("x", true) .. frame("yy", true))
  t.eq(recv(l1), "echo:x", "'L' first")
  t.eq(recv(l1), "echo:yy", "'L' second")
  got = skynet.call(agent2, "lua", "received")
  t.eq(got[1].source, lgate, "client :0 means the gate is the source")

  local l2, lfd2 = connect(lport)
  skynet.send(lgate, "text", "broker", skynet.address(agent2))
  skynet.send(lgate, "text", "start", lfd2)
  socket.write(l2, frame("via broker", true))
  t.eq(recv(l1), "echo:via broker", "broker got l2's packet (it echoes to its fd)")
  socket.write(l1, frame("also broker", true))
  t.eq(recv(l1), "echo:also broker", "broker got l1's packet")

  socket.write(l2, string.pack(">I4", 0x1000000))
  t.check(u.closed(l2), "16 MiB packet refused")
  t.eq(tonumber(expect("^(%d+) close$", "L oversize")), lfd2, "close report for l2")

  -- Releasing the gate closes its connections.
  skynet.kill(lgate)
  t.check(u.closed(l1), "gate gone, connection closed")

  -- The config key gate_max_packet is the limit when the argument is absent.
  skynet.setenv("gate_max_packet", "500")
  local egate, eport = launch_gate("S", 1)
  local e1, efd1 = connect(eport)
  skynet.send(egate, "text", "forward", efd1, skynet.address(agent), ":0")
  skynet.call(agent, "lua", "start", efd1)
  skynet.send(egate, "text", "start", efd1)
  socket.write(e1, frame(string.rep("e", 500)))
  t.eq(recv(e1), "echo:" .. string.rep("e", 500), "500 bytes pass")
  socket.write(e1, frame(string.rep("e", 501)))
  t.check(u.closed(e1), "501 bytes close the connection")
  t.eq(tonumber(expect("^(%d+) close$", "env limit")), efd1, "close report for e1")
  skynet.kill(egate)
  skynet.kill(agent)
  skynet.kill(agent2)
end)
