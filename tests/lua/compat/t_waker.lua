-- wait          -> waits on a token; answers "woken" once woken
-- wake_and_fail -> skynet.wakeup(token), then raises in the same coroutine
-- wake          -> skynet.wakeup(token), answers what wakeup returned
local skynet = require "skynet"

local token = {}

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd)
    if cmd == "wait" then
      skynet.wait(token)
      skynet.retpack("woken")
    elseif cmd == "wake_and_fail" then
      skynet.wakeup(token)
      error("deliberate error right after a wakeup (t_waker)")
    elseif cmd == "wake" then
      skynet.retpack(skynet.wakeup(token))
    else
      error("t_waker: unknown command " .. tostring(cmd))
    end
  end)
end)
