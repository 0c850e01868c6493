-- Requests that go through one skynet.queue critical section, or around it.
--   locked id ti   -> inside cs: logs "start id", sleeps ti cs, logs "end id";
--                     answers id
--   unlocked id ti -> the same without cs
--   nested id      -> cs inside cs in the same coroutine (must not deadlock)
--   raise id       -> raises inside cs (the caller's call fails)
--   log            -> answers the log and clears it
local skynet = require "skynet"
local queue = require "skynet.queue"

local cs = queue()
local log = {}

local function work(id, ti)
  log[#log + 1] = "start " .. id
  skynet.sleep(ti)
  log[#log + 1] = "end " .. id
  return id
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, id, ti)
    if cmd == "locked" then
      skynet.retpack(cs(work, id, ti))
    elseif cmd == "unlocked" then
      skynet.retpack(work(id, ti))
    elseif cmd == "nested" then
      local r = cs(function()
        log[#log + 1] = "outer " .. id
        return cs(function()
          log[#log + 1] = "inner " .. id
          skynet.sleep(1)
          return "nested " .. id
        end)
      end)
      skynet.retpack(r)
    elseif cmd == "raise" then
      cs(function()
        log[#log + 1] = "raise " .. id
        skynet.sleep(1)
        error("deliberate error inside the critical section")
      end)
    elseif cmd == "log" then
      local l = log
      log = {}
      skynet.retpack(table.concat(l, ","))
    else
      error("t_cs: unknown command " .. tostring(cmd))
    end
  end)
end)
