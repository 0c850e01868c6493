local skynet = require "skynet"
local profile = require "skynet.profile"
local t = require "testlib"
t.run("test_profile", function()
  profile.start()
  local x = 0
  for i = 1, 2e6 do x = x + i end
  skynet.sleep(20)  -- waiting costs no CPU
  local spent = profile.stop()
  t.check(spent > 0, "some CPU time")
  t.check(spent < 0.15, "sleep not counted: " .. spent)
  t.eq(pcall(profile.stop), false, "stop without start")
  t.check(skynet.stat("cpu") >= 0, "STAT cpu")
  t.check(skynet.stat("message") >= 1, "STAT message")
end)
