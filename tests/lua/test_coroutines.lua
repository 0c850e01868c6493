local skynet = require "skynet"
local t = require "testlib"
t.run("test_coroutines", function()
  -- fork order and arguments
  local order = {}
  for i = 1, 3 do skynet.fork(function(x) order[#order + 1] = x end, i) end
  skynet.yield()
  t.eq(table.concat(order, ","), "1,2,3", "fork order")
  -- sleep lasts at least its time
  local t0 = skynet.now()
  skynet.sleep(5)
  t.check(skynet.now() - t0 >= 5, "sleep 5 cs")
  -- wait / wakeup
  local token = {}
  local woken = false
  skynet.fork(function() skynet.wait(token) woken = true end)
  skynet.yield()
  t.eq(woken, false, "waiting")
  t.check(skynet.wakeup(token), "wakeup finds the sleeper")
  skynet.yield()
  t.eq(woken, true, "woken")
  -- sleep interrupted by wakeup returns BREAK
  local result
  local sleeper = {}
  skynet.fork(function() result = skynet.sleep(1000, sleeper) end)
  skynet.yield()
  skynet.wakeup(sleeper)
  skynet.yield()
  t.eq(result, "BREAK", "interrupted sleep")
  -- timeouts fire in time order
  local fired = {}
  skynet.timeout(3, function() fired[#fired + 1] = 3 end)
  skynet.timeout(1, function() fired[#fired + 1] = 1 end)
  skynet.timeout(2, function() fired[#fired + 1] = 2 end)
  skynet.sleep(6)
  t.eq(table.concat(fired, ","), "1,2,3", "timeout order")
  -- time is consistent
  t.check(math.abs(skynet.time() - (skynet.starttime() + skynet.now() / 100)) < 0.02, "time")
  -- skynet.coroutine: a user coroutine that calls into the framework
  local co = require "skynet.coroutine"
  local e = skynet.newservice("t_echo")
  local c = co.create(function(a)
    local b = co.yield(a + 1)
    return skynet.call(e, "lua", "echo", b * 2)
  end)
  local ok, v = co.resume(c, 1)
  t.eq(v, 2, "user yield")
  ok, v = co.resume(c, 10)
  t.eq(v, 20, "call inside a skynet coroutine")
end)
