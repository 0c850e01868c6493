-- Grows past 32 MiB of Lua memory (the first report threshold), then aborts.
local skynet = require "skynet"
skynet.start(function()
  local keep = {}
  for i = 1, 40 do keep[i] = string.rep(string.char(65 + i % 26), 1024 * 1024) end
  skynet.error("allocated " .. #keep .. " MiB")
  skynet.abort()
end)
