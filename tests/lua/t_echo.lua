-- Answers "echo" with its arguments, fails on "fail", sleeps on "slow",
-- exits on "exit_now" (without answering), never answers "hang".
local skynet = require "skynet"
skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    if cmd == "echo" then
      skynet.retpack(...)
    elseif cmd == "fail" then
      error("asked to fail")
    elseif cmd == "slow" then
      skynet.sleep((...))
      skynet.retpack("slow done")
    elseif cmd == "exit_now" then
      skynet.exit()
    elseif cmd == "hang" then
      skynet.ignoreret()
      skynet.wait()
    elseif cmd == "loop" then
      while true do end
    end
  end)
end)
