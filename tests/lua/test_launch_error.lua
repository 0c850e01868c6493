local skynet = require "skynet"
local t = require "testlib"
t.run("test_launch_error", function()
  local ok, err = pcall(skynet.newservice, "no_such_service_file")
  t.eq(ok, false, "newservice of a missing file")
  t.check(tostring(err):find("no_such_service_file"), err)
  t.check(skynet.newservice("t_echo"), "the node still launches services")
end)
