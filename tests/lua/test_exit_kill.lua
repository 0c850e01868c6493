local skynet = require "skynet"
require "skynet.manager"
local t = require "testlib"
t.run("test_exit_kill", function()
  -- the callee exits without answering: the caller gets an error, not a hang
  local e = skynet.newservice("t_echo")
  local ok = pcall(skynet.call, e, "lua", "exit_now")
  t.eq(ok, false, "caller of an exiting service")
  -- the callee is killed by someone else while we wait
  local h = skynet.newservice("t_echo")
  local results = {}
  skynet.fork(function()
    results[#results + 1] = pcall(skynet.call, h, "lua", "hang")
  end)
  skynet.sleep(5)
  skynet.kill(h)
  skynet.sleep(5)
  t.eq(results[1], false, "caller of a killed service")
  -- calls to a dead address fail at once
  local ok2 = pcall(skynet.call, h, "lua", "echo")
  t.eq(ok2, false, "call to a dead service")
end)
