-- skynet.fork: forked functions start only when the current coroutine
-- suspends (or its handler returns), in fork order, with their arguments.
local skynet = require "skynet"
local t = require "testlib"

t.run("test_fork", function()
  local log = {}
  local function rec(...)
    local p = table.pack(...)
    local parts = {}
    for i = 1, p.n do parts[i] = tostring(p[i]) end
    log[#log + 1] = table.concat(parts, " ") .. " #" .. p.n
  end

  local co = skynet.fork(rec, "a")
  t.eq(type(co), "thread", "skynet.fork returns the coroutine")
  skynet.fork(rec, "b", 2, nil)          -- a trailing nil is kept
  skynet.fork(rec)                       -- no arguments at all
  skynet.fork(rec, nil, nil, "d")     -- leading nils are kept
  t.eq(#log, 0, "nothing runs before this coroutine suspends")
  skynet.yield()
  t.eq(table.concat(log, "|"), "a #1|b 2 nil #3| #0|nil nil d #3", "fork order and arguments")

  -- a fork that forks: the inner one runs after the ones already queued
  log = {}
  skynet.fork(function()
    rec("outer")
    skynet.fork(rec, "inner")
  end)
  skynet.fork(rec, "second")
  skynet.yield()
  t.eq(table.concat(log, "|"), "outer #1|second #1|inner #1", "nested fork order")

  -- a sleeping fork does not hold up the others
  log = {}
  skynet.fork(function() skynet.sleep(5) rec("sleeper") end)
  skynet.fork(rec, "runner")
  skynet.yield()
  t.eq(table.concat(log, "|"), "runner #1", "runner did not wait for the sleeper")
  skynet.sleep(10)
  t.eq(table.concat(log, "|"), "runner #1|sleeper #1", "sleeper finished later")

  -- forks run while this coroutine waits in a call
  local e = skynet.newservice("t_echo")
  log = {}
  skynet.fork(rec, "during call")
  local v = skynet.call(e, "lua", "echo", "v")
  t.eq(v, "v", "call result")
  t.eq(table.concat(log, "|"), "during call #1", "fork ran while the call was pending")

  -- a fork that raises does not stop the service or the other forks
  log = {}
  skynet.fork(function() error("deliberate error in a fork (test_fork)") end)
  skynet.fork(rec, "after error")
  skynet.yield()
  t.eq(table.concat(log, "|"), "after error #1", "fork after a failing fork")
  t.eq(skynet.call(e, "lua", "echo", 1), 1, "service still works after a fork error")

  -- forks queued inside a request handler run after the handler returns,
  -- in the handling service
  skynet.dispatch("lua", function(_, _, cmd)
    if cmd == "fork_then_return" then
      skynet.fork(rec, "forked in handler")
      rec("handler returns")
      skynet.retpack(true)
    end
  end)
  log = {}
  skynet.call(skynet.self(), "lua", "fork_then_return")
  skynet.yield()
  t.eq(table.concat(log, "|"), "handler returns #1|forked in handler #1", "fork inside a handler")
end)
