local skynet = require "skynet"
local t = require "testlib"
t.run("test_queue", function()
  local s = skynet.newservice("t_serial")
  local done = 0
  skynet.fork(function() skynet.call(s, "lua", "run", 1, 10) done = done + 1 end)
  skynet.fork(function() skynet.call(s, "lua", "run", 2, 1) done = done + 1 end)
  while done < 2 do skynet.sleep(1) end
  local log = skynet.call(s, "lua", "log")
  t.eq(table.concat(log, ","), "start 1,end 1,start 2,end 2", "critical section order")
end)
