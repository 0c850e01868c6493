-- Makes a call on request and can exit while that call is still pending.
--   call target ... -> (send) calls target with ..., keeps the outcome
--   exit            -> (send) skynet.exit()
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, target, ...)
    if cmd == "call" then
      pcall(skynet.call, target, "lua", ...)
    elseif cmd == "exit" then
      skynet.exit()
    end
  end)
end)
