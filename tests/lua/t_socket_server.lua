-- A small TCP server for the socket tests. skynet.call(s, "lua", "listen",
-- mode[, n]) -> port. Modes:
--   "line"         echoes each line;
--   "close_after"  echoes n lines per connection, then closes it;
--   "session"      each line is "<session> <delay> <text>": answers
--                  "<session> <text>" after delay centiseconds (so out of
--                  order); text "fail" answers "<session> !fail".
-- "stats" -> { accepted = connections so far, lines = lines handled }.
-- "kick" closes every open connection.
local skynet = require "skynet"
local socket = require "skynet.socket"

local accepted, lines = 0, 0
local open = {}

local function serve(id, mode, n)
  socket.start(id)
  open[id] = true
  local count = 0
  while true do
    local line = socket.readline(id)
    if not line then break end
    lines = lines + 1
    count = count + 1
    if mode == "session" then
      local session, delay, text = line:match("^(%d+) (%d+) (.*)$")
      skynet.fork(function()
        skynet.sleep(tonumber(delay))
        if text == "fail" then text = "!fail" end
        socket.write(id, session .. " " .. text .. "\n")
      end)
    else
      socket.write(id, line .. "\n")
    end
    if mode == "close_after" and count >= n then break end
  end
  open[id] = nil
  socket.close(id)
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, mode, n)
    if cmd == "listen" then
      local lid, _, port = socket.listen("127.0.0.1", 0)
      socket.start(lid, function(id)
        accepted = accepted + 1
        skynet.fork(serve, id, mode, n)
      end)
      skynet.retpack(port)
    elseif cmd == "stats" then
      skynet.retpack({ accepted = accepted, lines = lines })
    elseif cmd == "kick" then
      for id in pairs(open) do socket.close(id) end
      skynet.retpack(true)
    end
  end)
end)
