local skynet = require "skynet"
skynet.memlimit(4 * 1024 * 1024)
skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd)
    if cmd == "eat" then
      local ok, err = pcall(function()
        local t = {}
        for i = 1, 1e8 do t[i] = string.rep("x", 64) .. i end
      end)
      collectgarbage()
      skynet.retpack(ok, tostring(err))
    else
      skynet.retpack("alive")
    end
  end)
end)
