-- A service for the harbor tests: records "push" sends, in arrival order.
local skynet = require "skynet"

local got = {}
skynet.start(function()
  skynet.dispatch("lua", function(_, source, cmd, seq)
    if cmd == "push" then
      got[#got + 1] = seq
      return
    end
    -- "check": how many arrived, and whether 1..n arrived in order
    local ordered = true
    for i, v in ipairs(got) do
      if v ~= i then ordered = false break end
    end
    skynet.retpack(#got, ordered, source >> 24)
  end)
end)
