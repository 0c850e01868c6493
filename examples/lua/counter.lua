local skynet = require "skynet"

local total = 0

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, n)
    if cmd == "add" then
      total = total + n
      skynet.ret(skynet.pack(total))
    end
  end)
end)
