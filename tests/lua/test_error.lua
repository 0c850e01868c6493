local skynet = require "skynet"
local t = require "testlib"
t.run("test_error", function()
  local e = skynet.newservice("t_echo")
  local ok, err = pcall(skynet.call, e, "lua", "fail")
  t.eq(ok, false, "call to a failing handler")
  t.check(tostring(err):find("call failed"), err)
  t.eq(skynet.call(e, "lua", "echo", "still alive"), "still alive", "service survives")
end)
