-- The start service of every node in the harbor integration test. The role
-- (config key harbor_test_role) says what this node does; results are log
-- lines "PASS what" / "FAIL what: why", read by harbor_test.sh.
local skynet = require "skynet"
local harbor = require "skynet.harbor"
require "skynet.manager"

local function check(what, ok, why)
  skynet.error((ok and "PASS " or "FAIL ") .. what .. (ok and "" or (": " .. tostring(why))))
end

local function fails(what, f, pattern)
  local ok, err = pcall(f)
  check(what, not ok and tostring(err):find(pattern, 1, true) ~= nil,
    ok and "did not fail" or err)
end

local role = {}

function role.node1()
  local echo = skynet.newservice("h_echo")
  skynet.name("ECHO", echo)
  local sink = skynet.newservice("h_sink")
  skynet.name("SINK", sink)
  skynet.error("READY node1")
end

local function big(n)
  return string.rep("0123456789abcdef", n // 16 + 1):sub(1, n)
end

function role.node2()
  skynet.fork(function()
    harbor.linkmaster()
    skynet.error("PASS linkmaster returned when the master went away")
  end)
  local ECHO = harbor.queryname("ECHO")
  check("queryname ECHO is on harbor 1", ECHO >> 24 == 1, string.format("%x", ECHO))
  check("call a remote handle", skynet.call(ECHO, "lua", "ping", "a") == "ponga")
  check("call a global name", skynet.call("ECHO", "lua", "ping", "b") == "pongb")
  check("remote sees our address as source", skynet.call(ECHO, "lua", "whoami") == ECHO)
  -- ordering: sends by name (queued until known) then by handle, then a call
  for i = 1, 1000 do skynet.send("SINK", "lua", "push", i) end
  local SINK = harbor.queryname("SINK")
  for i = 1001, 2000 do skynet.send(SINK, "lua", "push", i) end
  local n, ordered, from = skynet.call(SINK, "lua", "check")
  check("2000 sends arrive in order", n == 2000 and ordered and from == 2,
    string.format("n=%s ordered=%s from=%s", n, ordered, from))
  for _, size in ipairs { 0, 1, 8, 9, 4000, 4097, 100000, 1 << 20 } do
    local s = big(size)
    check("echo " .. size .. " bytes", skynet.call(ECHO, "lua", "echo", s) == s)
  end
  fails("a remote error reaches the caller", function() skynet.call(ECHO, "lua", "fail") end, "call failed")
  fails("call to a dead handle on harbor 1", function()
    skynet.call((1 << 24) | 0xfffff, "lua", "ping")
  end, "call failed")
  fails("call to an unknown harbor", function()
    skynet.call((77 << 24) | 1, "lua", "ping")
  end, "no harbor 77")
  local mine = skynet.newservice("h_echo")
  skynet.name("N2SVC", mine)
  check("node 1 calls back our global name", skynet.call(ECHO, "lua", "callname", "N2SVC") == "pongback")
  check("queryname of a local name", harbor.queryname(".launcher") == skynet.localname(".launcher"))
  check("queryname of our own global name", harbor.queryname("N2SVC") == mine)
  fails("a bad global name is refused", function() skynet.register("no spaces allowed") end, "invalid global name")
  skynet.error("DONE phase A")

  -- Phase B: node 3 joins, then is killed.
  local N3 = harbor.queryname("N3ECHO")
  check("queryname N3ECHO is on harbor 3", N3 >> 24 == 3)
  check("call node 3 (link made through the master)", skynet.call(N3, "lua", "ping", 3) == "pong3")
  local linked_down, hang_failed = false, false
  skynet.fork(function()
    harbor.link(3)
    linked_down = true
    skynet.error("PASS harbor.link(3) returned")
  end)
  skynet.fork(function()
    local ok, err = pcall(skynet.call, N3, "lua", "hang")
    hang_failed = true
    check("a call in flight to a killed node fails", not ok and tostring(err):find("call failed", 1, true), err)
  end)
  skynet.sleep(5)  -- the hang request is across
  skynet.error("READY for kill")
  while not (linked_down and hang_failed) do skynet.sleep(5) end
  local t0 = skynet.now()
  fails("a call to a dead node fails", function() skynet.call(N3, "lua", "ping", 1) end, "harbor 3 is down")
  fails("a call by name to a dead node fails", function() skynet.call("N3ECHO", "lua", "ping", 1) end, "harbor 3 is down")
  check("the failures were immediate", skynet.now() - t0 < 100)
  check("harbor.link of a dead node returns at once", (function() harbor.link(3) return true end)())
  check("node 1 still answers", skynet.call(ECHO, "lua", "ping", "c") == "pongc")
  skynet.error("DONE phase B")

  -- Phase C: a fake harbor 9 sends garbage on its link; we stay up.
  local linked = harbor.connect(9)
  harbor.link(9)
  check("harbor 9 went down after its garbage", true, linked)
  fails("a call to the garbage harbor fails", function() skynet.call((9 << 24) | 1, "lua", "ping") end, "harbor 9 is down")
  check("node 1 answers after the garbage", skynet.call(ECHO, "lua", "ping", "d") == "pongd")
  skynet.error("DONE phase C")
end

function role.node3()
  local mine = skynet.newservice("h_echo")
  skynet.name("N3ECHO", mine)
  check("node 3 calls node 1", skynet.call("ECHO", "lua", "ping", 1) == "pong1")
  check("node 3 calls node 2 by name", skynet.call("N2SVC", "lua", "ping", 2) == "pong2")
  skynet.error("READY node3")
end

skynet.start(function()
  local r = skynet.getenv "harbor_test_role"
  role[r]()
end)
