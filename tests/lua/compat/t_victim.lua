-- A service that can be made to exit or to be busy.
--   ping        -> answers "pong"
--   hold ti     -> answers after sleeping ti cs (a request in progress)
--   hang        -> never answers (waits forever)
--   exit_now    -> calls skynet.exit() inside the handler, without answering
--   spin ti     -> (send) busy-loops for ti cs without yielding
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ti)
    if cmd == "ping" then
      skynet.retpack("pong")
    elseif cmd == "hold" then
      skynet.sleep(ti)
      skynet.retpack("held")
    elseif cmd == "hang" then
      skynet.wait()
    elseif cmd == "exit_now" then
      skynet.exit()
    elseif cmd == "spin" then
      local stop = skynet.now() + ti
      while skynet.now() < stop do end
    else
      error("t_victim: unknown command " .. tostring(cmd))
    end
  end)
end)
