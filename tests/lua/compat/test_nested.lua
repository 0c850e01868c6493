-- Calls made from inside a handler, and one coroutine per request.
local skynet = require "skynet"
local t = require "testlib"

t.run("test_nested", function()
  -- A (this test) -> B (t_relay) -> C (t_echo); the answer flows back
  local c = skynet.newservice("t_echo")
  local b = skynet.newservice("t_relay")
  local via, who, x, y = skynet.call(b, "lua", "relay", c, "echo", "from C", 3)
  t.eq(via, "via", "relay marker")
  t.eq(who, b, "relay address")
  t.eq(x, "from C", "C's first value")
  t.eq(y, 3, "C's second value")

  -- a longer chain: test -> r1 -> r2 -> r3
  local r1, r2, r3 = skynet.newservice("t_relay"), skynet.newservice("t_relay"), skynet.newservice("t_relay")
  local path, value = skynet.call(r1, "lua", "chain", { r2, r3 }, "payload")
  t.eq(value, "payload", "value through the chain")
  t.eq(#path, 3, "chain length")
  t.eq(path[1], r1, "chain[1]")
  t.eq(path[2], r2, "chain[2]")
  t.eq(path[3], r3, "chain[3]")

  -- concurrent requests to one service: the second is served while the
  -- first waits in skynet.sleep (a coroutine per request)
  local s = skynet.newservice("t_slow")
  local order = {}
  local res = t.parallel {
    function()
      local tag, co = skynet.call(s, "lua", "sleep", 30, "slow")
      order[#order + 1] = tag
      return tag, co
    end,
    function()
      skynet.sleep(2) -- the slow request is surely in its handler by now
      local tag, co = skynet.call(s, "lua", "fast", "quick")
      order[#order + 1] = tag
      return tag, co
    end,
  }
  t.check(res[1][1], "slow call: " .. tostring(res[1][2]))
  t.check(res[2][1], "fast call: " .. tostring(res[2][2]))
  t.eq(table.concat(order, ","), "quick,slow", "answer order")
  t.check(res[1][3] ~= res[2][3], "each request runs in its own coroutine")
  local log = skynet.call(s, "lua", "log")
  t.eq(table.concat(log, ","), "start slow,fast quick,end slow", "events in the service")

  -- two sleeping requests overlap: total time ~ one sleep, not two
  local t0 = skynet.now()
  local both = t.parallel {
    function() return skynet.call(s, "lua", "sleep", 30, "p1") end,
    function() return skynet.call(s, "lua", "sleep", 30, "p2") end,
  }
  local elapsed = skynet.now() - t0
  t.check(both[1][1] and both[2][1], "both sleeping calls succeed")
  t.check(both[1][3] ~= both[2][3], "overlapping requests run in distinct coroutines")
  t.check(elapsed >= 30, "slept at least 30 cs (took " .. elapsed .. ")")
  t.check(elapsed < 55, "two 30 cs requests overlap (took " .. elapsed .. " cs)")

  -- a service calling itself: the request is served by a new coroutine
  -- while the caller's coroutine waits
  skynet.dispatch("lua", function(_, _, cmd, v)
    if cmd == "double" then
      skynet.retpack(v * 2)
    elseif cmd == "outer" then
      skynet.retpack(skynet.call(skynet.self(), "lua", "double", v) + 1)
    end
  end)
  t.eq(skynet.call(skynet.self(), "lua", "outer", 20), 41, "self call inside a self call")
end)
