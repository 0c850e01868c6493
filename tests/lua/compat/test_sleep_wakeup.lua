-- skynet.sleep / skynet.wait / skynet.wakeup / skynet.yield.
local skynet = require "skynet"
local t = require "testlib"

t.run("test_sleep_wakeup", function()
  -- sleep lasts at least ti centiseconds (and not absurdly longer)
  for _, ti in ipairs { 1, 5, 20 } do
    local t0 = skynet.now()
    local r = skynet.sleep(ti)
    local dt = skynet.now() - t0
    t.eq(r, nil, "a full sleep returns nothing")
    t.check(dt >= ti, string.format("sleep(%d) lasted %d cs", ti, dt))
    t.check(dt < ti + 50, string.format("sleep(%d) lasted %d cs", ti, dt))
  end

  -- wait(token) / wakeup(token)
  local token = {}
  local state = "init"
  skynet.fork(function()
    state = "waiting"
    skynet.wait(token)
    state = "woken"
  end)
  t.eq(state, "init", "fork not started yet")
  skynet.yield()
  t.eq(state, "waiting", "fork is waiting")
  skynet.sleep(2)
  t.eq(state, "waiting", "still waiting: wait has no timeout")
  t.eq(skynet.wakeup(token), true, "wakeup of a waiting token returns true")
  t.eq(state, "waiting", "wakeup does not switch at once")
  skynet.yield()
  t.eq(state, "woken", "woken after we suspended")
  t.check(not skynet.wakeup(token), "wakeup of a token nobody waits on returns a false value")
  t.check(not skynet.wakeup({}), "wakeup of an unknown token returns a false value")

  -- wait() without a token waits on its own coroutine
  local done = false
  local co = skynet.fork(function()
    skynet.wait()
    done = true
  end)
  skynet.yield()
  t.eq(done, false, "waiting on itself")
  t.eq(skynet.wakeup(co), true, "wakeup(coroutine)")
  skynet.yield()
  t.eq(done, true, "woken through its coroutine")

  -- sleep(ti, token) interrupted by wakeup(token) returns "BREAK" early
  local sleeper = {}
  local result, slept = "unset", nil
  skynet.fork(function()
    local t0 = skynet.now()
    result = skynet.sleep(200, sleeper)
    slept = skynet.now() - t0
  end)
  skynet.yield()
  t.eq(result, "unset", "sleeper is sleeping")
  t.eq(skynet.wakeup(sleeper), true, "wakeup of a sleep token")
  skynet.sleep(1)
  t.eq(result, "BREAK", "interrupted sleep returns BREAK")
  t.check(slept and slept < 100, "interrupted sleep ended early (" .. tostring(slept) .. " cs)")

  -- sleep(ti) of a forked coroutine can be woken through the coroutine itself
  local r2 = "unset"
  local sco = skynet.fork(function() r2 = skynet.sleep(200) end)
  skynet.yield()
  t.eq(skynet.wakeup(sco), true, "wakeup of a sleeping coroutine")
  skynet.sleep(1)
  t.eq(r2, "BREAK", "sleep without a token, woken by coroutine")

  -- the timer of an interrupted sleep fires later and must be ignored:
  -- the service keeps running normally
  local short = {}
  local r3 = "unset"
  skynet.fork(function() r3 = skynet.sleep(5, short) end)
  skynet.yield()
  skynet.wakeup(short)
  skynet.yield()
  t.eq(r3, "BREAK", "short sleep interrupted")
  skynet.sleep(10) -- the stale 5 cs timer arrives meanwhile
  t.eq(skynet.call(skynet.newservice("t_echo"), "lua", "echo", "ok"), "ok", "service fine after a stale timer")

  -- in another service: a wakeup issued by a coroutine that then dies with an
  -- error still takes effect at once (skynet runs the woken coroutine when
  -- the failing one ends), not only when some later message arrives
  local w = skynet.newservice("t_waker")
  local waited
  skynet.fork(function() waited = table.pack(pcall(skynet.call, w, "lua", "wait")) end)
  skynet.sleep(2)
  t.eq(waited, nil, "request waiting in t_waker")
  t.eq(pcall(skynet.call, w, "lua", "wake_and_fail"), false, "wake_and_fail raises")
  t.check(t.wait_until(function() return waited end, 50),
    "waiter woken by a coroutine that failed right after skynet.wakeup")
  t.eq(waited[2], "woken", "waiter's answer")
  -- and the plain case
  waited = nil
  skynet.fork(function() waited = table.pack(pcall(skynet.call, w, "lua", "wait")) end)
  skynet.sleep(2)
  t.eq(skynet.call(w, "lua", "wake"), true, "wakeup from another request")
  t.check(t.wait_until(function() return waited end, 50), "waiter woken")
  t.eq(waited[2], "woken", "waiter's answer (2)")

  -- yield lets other coroutines run, round robin
  local trace = {}
  for _, name in ipairs { "A", "B" } do
    skynet.fork(function()
      for i = 1, 3 do
        trace[#trace + 1] = name .. i
        skynet.yield()
      end
    end)
  end
  skynet.sleep(5)
  t.eq(table.concat(trace, ","), "A1,B1,A2,B2,A3,B3", "yield interleaves coroutines")

  -- yield runs a timeout(0) that was registered before it
  local fired = false
  skynet.timeout(0, function() fired = true end)
  t.eq(fired, false, "timeout(0) does not run synchronously")
  skynet.yield()
  t.eq(fired, true, "timeout(0) ran during yield")
end)
