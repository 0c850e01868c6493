-- Forwards a call: "relay", target, ... -> calls target with ... inside the
-- handler and answers ("via <self>", results...).
-- "chain", {addr1, addr2, ...}, value -> calls addr1 "chain" {addr2, ...}
-- (or, at the end of the list, returns value), appending its own address.
local skynet = require "skynet"

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    if cmd == "relay" then
      local target = ...
      skynet.retpack("via", skynet.self(), skynet.call(target, "lua", select(2, ...)))
    elseif cmd == "chain" then
      local list, value = ...
      local path
      if #list == 0 then
        path = {}
      else
        local rest = table.move(list, 2, #list, 1, {})
        path = skynet.call(list[1], "lua", "chain", rest, value)
      end
      table.insert(path, 1, skynet.self())
      skynet.retpack(path, value)
    else
      error("t_relay: unknown command " .. tostring(cmd))
    end
  end)
end)
