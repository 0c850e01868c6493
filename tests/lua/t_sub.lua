local skynet = require "skynet"
local mc = require "skynet.multicast"
local got = {}
skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, id)
    if cmd == "sub" then
      local ch = mc.new { channel = id, dispatch = function(_, _, ...) got[#got + 1] = table.concat({ ... }, " ") end }
      ch:subscribe()
      skynet.retpack(true)
    else
      skynet.retpack(got)
    end
  end)
end)
