local skynet = require "skynet"
local t = require "testlib"
t.run("test_uniqueservice", function()
  local clients = {}
  for i = 1, 10 do clients[i] = skynet.newservice("t_unique_client") end
  local got, done = {}, 0
  for i = 1, 10 do
    skynet.fork(function()
      got[i] = skynet.call(clients[i], "lua")
      done = done + 1
    end)
  end
  while done < 10 do skynet.sleep(1) end
  for i = 2, 10 do t.eq(got[i], got[1], "same instance") end
  t.eq(skynet.call(got[1], "lua"), 1, "init ran once")
  t.eq(skynet.queryservice("t_unique"), got[1], "queryservice")
end)
