-- skynet.memlimit: allocations past the limit fail with "not enough memory"
-- in that service only; the service keeps answering.
local skynet = require "skynet"
local t = require "testlib"

t.run("test_memlimit", function()
  local h = skynet.newservice("t_memlimit")
  t.eq(skynet.call(h, "lua", "ping"), "alive", "limited service starts")
  t.check(skynet.call(h, "lua", "mem") < 8 * 1024, "starts below its limit")

  local ok, err = skynet.call(h, "lua", "eat_table")
  t.eq(ok, false, "growing past the limit fails")
  t.check(err:find("not enough memory", 1, true), "error message: " .. err)
  t.eq(skynet.call(h, "lua", "ping"), "alive", "answers after running out of memory")

  ok, err = skynet.call(h, "lua", "eat_string")
  t.eq(ok, false, "one allocation past the limit fails")
  t.check(err:find("not enough memory", 1, true), "error message: " .. err)
  t.eq(skynet.call(h, "lua", "ping"), "alive", "answers after a failed big allocation")

  -- it can do it again: memory was given back
  ok, err = skynet.call(h, "lua", "eat_table")
  t.eq(ok, false, "second run fails the same way")
  t.check(err:find("not enough memory", 1, true), "error message (2nd): " .. err)
  t.check(skynet.call(h, "lua", "mem") < 8 * 1024, "back below its limit")

  -- other services have no such limit
  local s = string.rep("z", 32 * 1024 * 1024)
  t.eq(#s, 32 * 1024 * 1024, "this service allocates 32 MiB")
  s = nil
  collectgarbage()
  local e = skynet.newservice("t_echo")
  local big = string.rep("w", 12 * 1024 * 1024)
  t.eq(#skynet.call(e, "lua", "echo", big), #big, "another service handles 12 MiB")
end, { timeout = 800 })
