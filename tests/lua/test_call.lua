local skynet = require "skynet"
local t = require "testlib"
t.run("test_call", function()
  local e = skynet.newservice("t_echo")
  local a, b, c = skynet.call(e, "lua", "echo", 1, "two", { 3 })
  t.eq(a, 1, "first")
  t.eq(b, "two", "second")
  t.eq(c[1], 3, "table")
  -- nested: a second echo answers through the first's call
  local n = select("#", skynet.call(e, "lua", "echo"))
  t.eq(n, 0, "no values")
  -- unknown address fails at once
  local ok, err = pcall(skynet.call, 0x01ffffff, "lua", "echo")
  t.eq(ok, false, "call to unknown address")
  t.check(tostring(err):find("invalid address"), err)
  -- call_timeout (tern)
  ok, err = pcall(skynet.call_timeout, 5, e, "lua", "slow", 100)
  t.eq(ok, false, "timeout")
  t.check(tostring(err):find("timeout"), err)
  t.eq(skynet.call_timeout(100, e, "lua", "echo", "in time"), "in time", "answer in time")
end)
