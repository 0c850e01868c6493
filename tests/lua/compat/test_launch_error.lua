-- skynet.newservice of a service that cannot start raises in the caller,
-- and the node keeps working.
local skynet = require "skynet"
local t = require "testlib"

t.run("test_launch_error", function()
  local t0 = skynet.now()
  local ok, err = pcall(skynet.newservice, "no_such_service_file")
  t.eq(ok, false, "newservice of a missing file raises")
  t.eq(type(err), "string", "with a message")
  t.check(#err > 0, "message is not empty")
  t.check(skynet.now() - t0 < 100, "fails promptly")

  ok = pcall(skynet.newservice, "t_loaderr")
  t.eq(ok, false, "newservice of a service whose main chunk raises")

  ok = pcall(skynet.newservice, "t_initerr")
  t.eq(ok, false, "newservice of a service whose start function raises")

  -- the same failures again (nothing cached, nothing stuck)
  t.eq(pcall(skynet.newservice, "no_such_service_file"), false, "missing file, second time")
  t.eq(pcall(skynet.newservice, "t_initerr"), false, "failing start, second time")

  -- several failing launches at the same time, mixed with a good one
  local res = t.parallel {
    function() return skynet.newservice("no_such_service_file") end,
    function() return skynet.newservice("t_echo") end,
    function() return skynet.newservice("t_initerr") end,
  }
  t.eq(res[1][1], false, "concurrent missing file fails")
  t.eq(res[2][1], true, "concurrent good launch succeeds: " .. tostring(res[2][2]))
  t.eq(res[3][1], false, "concurrent failing start fails")
  t.eq(skynet.call(res[2][2], "lua", "echo", "up"), "up", "service launched meanwhile works")

  -- uniqueservice of a failing service raises, every time
  t.eq(pcall(skynet.uniqueservice, "t_initerr"), false, "uniqueservice of a failing service")
  t.eq(pcall(skynet.uniqueservice, "t_initerr"), false, "uniqueservice of a failing service, again")

  -- the node keeps working: launching and calling still fine
  local e = skynet.newservice("t_echo")
  t.eq(skynet.call(e, "lua", "echo", "still here"), "still here", "node works after failed launches")
  t.eq(skynet.call(skynet.uniqueservice("t_echo"), "lua", "echo", 1), 1, "uniqueservice still works")
end)
