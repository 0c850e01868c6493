-- The callee of make bench SUITE=cluster.
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(session, _, cmd, data)
    if cmd == "quit" then
      skynet.abort()
    elseif session ~= 0 then
      if cmd == "len" then
        skynet.retpack(#data)
      else
        skynet.retpack(cmd)
      end
    end
  end)
end)
