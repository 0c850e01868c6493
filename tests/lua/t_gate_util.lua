-- Helpers for the gate and netpack tests (a module, not a service): length
-- framing on the client side, and a queue of events that a test waits on.
local skynet = require "skynet"
local socket = require "skynet.socket"

local util = {}

-- A packet with a 2-byte (or 4-byte) big-endian length header.
function util.frame(s, long)
  return string.pack(long and ">s4" or ">s2", s)
end

-- One framed packet from client socket c (2-byte header), or false on close.
function util.recv(c)
  local h = socket.read(c, 2)
  if not h then return false end
  local n = string.unpack(">I2", h)
  if n == 0 then return "" end
  return socket.read(c, n)
end

-- True when the peer closed c (reads until EOF, ignoring bytes).
function util.closed(c)
  while true do
    local data = socket.read(c)
    if not data then
      socket.close(c)
      return true
    end
  end
end

-- Writes bytes one piece at a time, pausing so that each piece likely arrives
-- in its own read on the other side.
function util.dribble(c, ...)
  for i = 1, select("#", ...) do
    socket.write(c, (select(i, ...)))
    skynet.sleep(2)
  end
end

-- A FIFO of events; pop() waits (up to timeout centiseconds, default 5 s) and
-- returns nil on timeout.
function util.events()
  local q = { items = {} }
  function q.push(ev)
    q.items[#q.items + 1] = ev
    local co = q.waiting
    if co then
      q.waiting = nil
      skynet.wakeup(co)
    end
  end
  function q.pop(timeout)
    if #q.items == 0 then
      local co = coroutine.running()
      q.waiting = co
      skynet.timeout(timeout or 500, function()
        if q.waiting == co then
          q.waiting = nil
          skynet.wakeup(co)
        end
      end)
      skynet.wait(co)
    end
    return table.remove(q.items, 1)
  end
  return q
end

return util
