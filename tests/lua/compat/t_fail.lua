-- Handlers that raise.
--   boom      -> raises at once
--   boom_late -> sleeps 2 cs, then raises
--   boom_send -> (for skynet.send) raises
--   ok        -> answers ("fine", number of requests handled so far)
local skynet = require "skynet"

local handled = 0

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd)
    handled = handled + 1
    if cmd == "boom" then
      error("deliberate error in t_fail (boom)")
    elseif cmd == "boom_late" then
      skynet.sleep(2)
      error("deliberate error in t_fail (boom_late)")
    elseif cmd == "boom_send" then
      error("deliberate error in t_fail (boom_send)")
    elseif cmd == "ok" then
      skynet.retpack("fine", handled)
    else
      error("t_fail: unknown command " .. tostring(cmd))
    end
  end)
end)
