local skynet = require "skynet"
skynet.start(function()
  skynet.dispatch("lua", function()
    skynet.retpack(skynet.uniqueservice("t_unique"))
  end)
end)
