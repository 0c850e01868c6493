-- The start function raises.
local skynet = require "skynet"
skynet.start(function()
  error("deliberate error in the start function of t_initerr")
end)
