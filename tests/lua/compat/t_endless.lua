-- loop  -> (send) loops forever without yielding
-- ping  -> answers ("pong", skynet.endless(), skynet.stat("endless"))
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd)
    if cmd == "loop" then
      local n = 0
      while true do n = n + 1 end
    elseif cmd == "ping" then
      local flag = skynet.endless()
      skynet.retpack("pong", flag, skynet.stat("endless"))
    else
      error("t_endless: unknown command " .. tostring(cmd))
    end
  end)
end)
