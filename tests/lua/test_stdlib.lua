local skynet = require "skynet"
local t = require "testlib"
t.run("test_stdlib", function()
  local s = skynet.newservice("t_stdlib")
  local ok, lazy_before = skynet.call(s, "lua", "check")
  t.eq(ok, true, tostring(lazy_before))
  t.eq(lazy_before, true, "io/os/math/utf8/debug open on first use")
end)
