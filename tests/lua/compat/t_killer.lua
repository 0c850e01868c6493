-- kill addr -> skynet.kill(addr) (skynet.manager), then answers true.
local skynet = require "skynet"
require "skynet.manager"

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, addr)
    if cmd == "kill" then
      skynet.kill(addr)
      skynet.retpack(true)
    else
      error("t_killer: unknown command " .. tostring(cmd))
    end
  end)
end)
