-- skynet.queue: a critical section serializes concurrent requests in a service.
local skynet = require "skynet"
local t = require "testlib"

t.run("test_queue", function()
  local h = skynet.newservice("t_cs")

  -- without the queue, requests interleave (this shows the check can fail)
  local res = t.parallel {
    function() return skynet.call(h, "lua", "unlocked", "A", 20) end,
    function() return skynet.call(h, "lua", "unlocked", "B", 1) end,
  }
  t.check(res[1][1] and res[2][1], "unlocked calls succeed")
  t.eq(skynet.call(h, "lua", "log"), "start A,start B,end B,end A", "unlocked requests interleave")

  -- with the queue, the second starts after the first finished
  res = t.parallel {
    function() return skynet.call(h, "lua", "locked", "A", 20) end,
    function() return skynet.call(h, "lua", "locked", "B", 1) end,
    function() return skynet.call(h, "lua", "locked", "C", 1) end,
  }
  for i, id in ipairs { "A", "B", "C" } do
    t.eq(res[i][1], true, "locked call " .. id .. " succeeds")
    t.eq(res[i][2], id, "locked call " .. id .. " result")
  end
  t.eq(skynet.call(h, "lua", "log"), "start A,end A,start B,end B,start C,end C",
    "locked requests run one after the other, in arrival order")

  -- re-entering the queue from the coroutine that holds it does not deadlock
  res = t.parallel {
    function() return skynet.call(h, "lua", "nested", "N1") end,
    function() return skynet.call(h, "lua", "locked", "D", 1) end,
  }
  t.eq(res[1][2], "nested N1", "nested critical section result")
  t.eq(res[2][2], "D", "request after the nested one")
  t.eq(skynet.call(h, "lua", "log"), "outer N1,inner N1,start D,end D", "nested section is one unit")

  -- an error inside the section reaches the caller and releases the queue.
  -- (The section is handed to E by skynet.wakeup just before R's coroutine
  -- dies with the error; skynet then still runs the woken coroutine at once.)
  local out = {}
  skynet.fork(function() out.R = table.pack(pcall(skynet.call, h, "lua", "raise", "R")) end)
  skynet.fork(function() out.E = table.pack(pcall(skynet.call, h, "lua", "locked", "E", 1)) end)
  t.check(t.wait_until(function() return out.R end, 100), "caller of the raising request resumed")
  t.eq(out.R[1], false, "error inside the section fails the call")
  t.check(t.wait_until(function() return out.E end, 100),
    "the request queued behind a raising one gets the section (wakeup issued just before an error was lost?)")
  t.eq(out.E[1], true, "the next request still gets the section")
  t.eq(out.E[2], "E", "its result")
  t.eq(skynet.call(h, "lua", "log"), "raise R,start E,end E", "order after an error")
end)
