-- "sleep", ti, tag -> sleeps ti cs inside the handler, then answers
--                    (tag, tostring(coroutine.running()), started_at, ended_at).
-- "fast", tag      -> answers (tag, tostring(coroutine.running())) at once.
-- "log"            -> answers the list of events seen so far.
local skynet = require "skynet"

local log = {}

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    if cmd == "sleep" then
      local ti, tag = ...
      local co = tostring(coroutine.running())
      local t0 = skynet.now()
      log[#log + 1] = "start " .. tag
      skynet.sleep(ti)
      log[#log + 1] = "end " .. tag
      skynet.retpack(tag, co, t0, skynet.now())
    elseif cmd == "fast" then
      local tag = ...
      log[#log + 1] = "fast " .. tag
      skynet.retpack(tag, tostring(coroutine.running()))
    elseif cmd == "log" then
      skynet.retpack(log)
    else
      error("t_slow: unknown command " .. tostring(cmd))
    end
  end)
end)
