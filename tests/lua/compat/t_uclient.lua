-- go counter -> answers (skynet.uniqueservice("t_unique", counter), its "hello" answer)
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, counter)
    if cmd == "go" then
      local addr = skynet.uniqueservice("t_unique", counter)
      local tag, self_of_unique = skynet.call(addr, "lua", "hello")
      skynet.retpack(addr, tag, self_of_unique)
    else
      error("t_uclient: unknown command " .. tostring(cmd))
    end
  end)
end)
