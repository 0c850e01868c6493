local skynet = require "skynet"
local t = require "testlib"
t.run("test_memlimit", function()
  local h = skynet.newservice("t_hog")
  local ok, err = skynet.call(h, "lua", "eat")
  t.eq(ok, false, "allocation past the limit")
  t.check(err:find("not enough memory"), err)
  t.eq(skynet.call(h, "lua", "ping"), "alive", "the service survives")
end)
