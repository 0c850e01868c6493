-- Logs 2000 lines and prints 2000 lines, then aborts: none may be lost.
local skynet = require "skynet"
skynet.start(function()
  for i = 1, 2000 do
    skynet.error("log line " .. i)
    print("print line " .. i)
  end
  skynet.abort()
end)
