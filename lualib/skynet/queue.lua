-- skynet.queue: a critical section for one service's coroutines. Calls made
-- through the same queue run one at a time, in arrival order, even when one
-- of them waits (call, sleep) in the middle.
local skynet = require "skynet"

function skynet.queue()
  local owner        -- coroutine inside the section
  local depth = 0    -- re-entry count of the owner
  local waiting = {} -- coroutines queued behind it

  local function leave(ok, ...)
    depth = depth - 1
    if depth == 0 then
      owner = table.remove(waiting, 1)
      if owner then skynet.wakeup(owner) end
    end
    if not ok then error((...), 0) end
    return ...
  end

  return function(f, ...)
    local me = coroutine.running()
    if owner and owner ~= me then
      table.insert(waiting, me)
      skynet.wait(me)  -- woken as the new owner
    end
    owner = me
    depth = depth + 1
    return leave(xpcall(f, debug.traceback, ...))
  end
end

return skynet.queue
