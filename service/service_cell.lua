-- service_cell: the body of a skynet.service service. It waits for its code
-- (a dumped Lua function) from service_provider and runs it.
local skynet = require "skynet"

local name = ...

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, code, ...)
    assert(cmd == "init", "service_cell expects init first")
    local main = assert(load(code, "=" .. tostring(name), "b", _ENV))
    main(...)
    skynet.ret(skynet.pack(true))
  end)
end)
