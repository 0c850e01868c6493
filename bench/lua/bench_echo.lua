local skynet = require "skynet"

local expected, received, waiter = 0, 0, nil

skynet.start(function()
  skynet.dispatch("lua", function(session, _, cmd, arg)
    if cmd == "ping" then
      skynet.ret(skynet.pack(arg))
    elseif cmd == "count" then
      received = received + 1
      if received == expected and waiter then waiter(true) end
    elseif cmd == "expect" then
      expected, received = arg, 0
      skynet.ret(skynet.pack(true))
    elseif cmd == "wait" then
      if received == expected then
        skynet.ret(skynet.pack(true))
      else
        waiter = skynet.response()
      end
    end
  end)
end)
