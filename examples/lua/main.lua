-- The example's main service: starts a counter service, talks to it, and
-- stops the node after a few rounds.
local skynet = require "skynet"

skynet.start(function()
  local counter = skynet.newservice("counter")
  for i = 1, 3 do
    local total = skynet.call(counter, "lua", "add", i)
    skynet.error(string.format("added %d, total is now %d", i, total))
    skynet.sleep(50)
  end
  skynet.error("done; stopping the node")
  skynet.abort()
end)
