-- skynet.response(): answering later, from another coroutine.
local skynet = require "skynet"
local t = require "testlib"

t.run("test_response", function()
  local h = skynet.newservice("t_resp")

  -- the caller waits until another request releases the answer
  local got
  skynet.fork(function()
    got = table.pack(pcall(skynet.call, h, "lua", "defer", "k1"))
  end)
  skynet.sleep(3)
  t.eq(got, nil, "caller still waiting for the deferred answer")
  t.eq(skynet.call(h, "lua", "pending"), 1, "one closure kept")
  t.eq(skynet.call(h, "lua", "test", "k1"), true, "closure('TEST') is true while the caller waits")
  t.eq(skynet.call(h, "lua", "release", "k1", "a", nil, 3), true, "closure(true, ...) returns true")
  skynet.sleep(1)
  t.check(got, "caller got an answer")
  t.eq(got[1], true, "deferred call succeeded: " .. tostring(got[2]))
  t.eq(got.n, 4, "values of the deferred answer (ok + 3)")
  t.eq(got[2], "a", "1st value")
  t.eq(got[3], nil, "2nd value (nil)")
  t.eq(got[4], 3, "3rd value")

  -- closure(false): the waiting caller's call raises
  local failed
  skynet.fork(function()
    failed = table.pack(pcall(skynet.call, h, "lua", "defer", "k2"))
  end)
  skynet.sleep(3)
  t.eq(failed, nil, "second caller waiting")
  t.eq(skynet.call(h, "lua", "reject", "k2"), true, "closure(false) returns true (error sent)")
  skynet.sleep(1)
  t.check(failed, "second caller resumed")
  t.eq(failed[1], false, "closure(false) makes the caller's call raise")

  -- calling the closure twice raises in the responder; the caller gets the first answer
  t.eq(skynet.call(h, "lua", "twice"), "first", "first answer delivered")
  local ok2, err2 = skynet.call(h, "lua", "twice_result")
  t.eq(ok2, false, "second use of the closure raises")
  t.check(err2:find("more than once", 1, true), "error message: " .. tostring(err2))

  -- answering from a timer callback (another coroutine)
  local t0 = skynet.now()
  local a, b = skynet.call(h, "lua", "timer", "k3", 5, "late", 9)
  t.eq(a, "late", "answer from a timer, 1st")
  t.eq(b, 9, "answer from a timer, 2nd")
  t.check(skynet.now() - t0 >= 5, "answer came after the timer")

  -- the caller dies while waiting: TEST turns false, answering returns false
  local req = skynet.newservice("t_requester")
  skynet.send(req, "lua", "call", h, "defer", "k4")
  skynet.sleep(3)
  t.eq(skynet.call(h, "lua", "pending"), 1, "closure for the doomed caller kept")
  t.eq(skynet.call(h, "lua", "test", "k4"), true, "TEST true while the requester lives")
  skynet.send(req, "lua", "exit")
  skynet.sleep(5)
  t.eq(skynet.call(h, "lua", "test", "k4"), false, "TEST false once the requester exited")
  t.eq(skynet.call(h, "lua", "release", "k4", "too late"), false, "answering a dead requester returns false")

  -- the responder still works
  t.eq(skynet.call(h, "lua", "pending"), 0, "no closure left")
end)
