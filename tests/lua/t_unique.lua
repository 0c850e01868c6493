local skynet = require "skynet"
local count = 0
skynet.start(function()
  skynet.sleep(10)  -- start slowly, so concurrent requests overlap
  count = count + 1
  skynet.dispatch("lua", function() skynet.retpack(count) end)
end)
