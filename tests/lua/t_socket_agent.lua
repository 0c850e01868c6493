-- Takes over a socket another service accepted: "serve", id -> starts it
-- (socket.start: "start" for a fresh accept, "transfer" for one the other
-- service had started and abandoned) and echoes lines prefixed with "agent:".
local skynet = require "skynet"
local socket = require "skynet.socket"

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, id)
    assert(cmd == "serve")
    local ok = socket.start(id)
    skynet.retpack(ok == id)
    while true do
      local line = socket.readline(id)
      if not line then break end
      socket.write(id, "agent:" .. line .. "\n")
    end
    socket.close(id)
  end)
end)
