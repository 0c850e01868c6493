-- Answers later, from another coroutine, with skynet.response.
local skynet = require "skynet"
local pending = {}
skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    if cmd == "ask" then
      pending[#pending + 1] = skynet.response()
    elseif cmd == "answer" then
      local r = table.remove(pending, 1)
      local alive = r("test")
      local ok = r(...)
      local twice = pcall(r, true, "again")
      skynet.retpack(alive, ok, twice)
    end
  end)
end)
