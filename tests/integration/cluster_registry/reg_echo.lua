-- Answers ("echo", ...) with the node's name and its arguments.
local skynet = require "skynet"
local me = skynet.getenv "test_node"
skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    assert(cmd == "echo", cmd)
    skynet.retpack(me, ...)
  end)
end)
