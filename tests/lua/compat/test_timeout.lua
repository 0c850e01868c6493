-- skynet.timeout ordering; skynet.now / skynet.time / skynet.starttime.
local skynet = require "skynet"
local t = require "testlib"

t.run("test_timeout", function()
  -- callbacks fire in time order, not registration order
  local fired = {}
  local function mark(tag)
    return function() fired[#fired + 1] = tag end
  end
  skynet.timeout(15, mark("15"))
  skynet.timeout(5, mark("5"))
  skynet.timeout(10, mark("10"))
  skynet.timeout(0, mark("0"))
  skynet.timeout(1, mark("1"))
  t.eq(#fired, 0, "no callback runs synchronously")
  skynet.sleep(25)
  t.eq(table.concat(fired, ","), "0,1,5,10,15", "time order")

  -- equal times keep registration order
  fired = {}
  for i = 1, 5 do skynet.timeout(3, mark("t" .. i)) end
  skynet.sleep(10)
  t.eq(table.concat(fired, ","), "t1,t2,t3,t4,t5", "same expiry in registration order")

  -- a callback does not fire early, and runs in its own coroutine where
  -- blocking calls work
  local t0 = skynet.now()
  local at, inner
  local e = skynet.newservice("t_echo")
  skynet.timeout(10, function()
    at = skynet.now()
    skynet.sleep(1)
    inner = skynet.call(e, "lua", "echo", "from timer")
  end)
  skynet.sleep(20)
  t.check(at and at - t0 >= 10, "timeout(10) fired after " .. tostring(at and at - t0) .. " cs")
  t.eq(inner, "from timer", "call inside a timeout callback")

  -- clocks: now in cs since start, starttime in s, time = starttime + now/100
  local now = skynet.now()
  t.eq(math.type(now), "integer", "skynet.now() is an integer")
  t.check(now >= 0, "now is not negative")
  local st = skynet.starttime()
  t.eq(math.type(st), "integer", "skynet.starttime() is an integer")
  t.eq(skynet.starttime(), st, "starttime is stable")
  local n1 = skynet.now()
  local tm = skynet.time()
  local n2 = skynet.now()
  t.check(tm >= st + n1 / 100 - 0.011 and tm <= st + n2 / 100 + 0.011,
    string.format("time %.2f vs starttime %d + now %d..%d / 100", tm, st, n1, n2))
  t.check(math.abs(tm - os.time()) < 3, string.format("skynet.time %.2f close to os.time %d", tm, os.time()))
  -- now advances with sleeping
  local before = skynet.now()
  skynet.sleep(3)
  t.check(skynet.now() - before >= 3, "now advanced by the sleep")
  t.check(skynet.time() > tm, "time advanced")
end)
