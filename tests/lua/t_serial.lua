-- Two requests through one skynet.queue run one after the other.
local skynet = require "skynet"
local queue = require "skynet.queue"
local cs = queue()
local log = {}
skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, id, ti)
    if cmd == "log" then return skynet.retpack(log) end
    cs(function()
      log[#log + 1] = "start " .. id
      skynet.sleep(ti)
      log[#log + 1] = "end " .. id
    end)
    skynet.retpack(true)
  end)
end)
