-- Started through skynet.uniqueservice("t_unique", counter).
-- Its start function reports to the counter service (so the test can count
-- how many instances ever started), and takes a while (sleeps) so that
-- concurrent uniqueservice requests overlap with the launch.
--   hello -> answers ("unique", skynet.self(), number of hello requests so far)
local skynet = require "skynet"

local counter = tonumber((...))
local hellos = 0

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd)
    if cmd == "hello" then
      hellos = hellos + 1
      skynet.retpack("unique", skynet.self(), hellos)
    else
      error("t_unique: unknown command " .. tostring(cmd))
    end
  end)
  if counter then
    skynet.send(counter, "lua", "unique_started", skynet.self())
  end
  skynet.sleep(10)
end)
