-- A handler stuck in an endless loop is interrupted by the monitor (tern: the
-- config key monitor_interval_s, 1 s in the test runner); the service then
-- answers again, and skynet.endless() reports the event once.
--
-- NOTE: this is tern behaviour. skynet's monitor only logs "maybe in an endless
-- loop" and sets the endless flag; interrupting needs the debug console's
-- "signal" command there.
local skynet = require "skynet"
local t = require "testlib"

t.run("test_endless", function()
  local h = skynet.newservice("t_endless")
  local tag, flag = skynet.call(h, "lua", "ping")
  t.eq(tag, "pong", "alive before the loop")
  t.eq(flag, false, "no endless flag before the loop")

  local other = skynet.newservice("t_echo")
  skynet.send(h, "lua", "loop")
  skynet.sleep(5)
  -- other services keep working while h loops
  t.eq(skynet.call(other, "lua", "echo", "meanwhile"), "meanwhile", "others unaffected by the loop")

  -- this call waits in h's queue until the loop is interrupted
  local t0 = skynet.now()
  local ok, pong, endless1, stat1 = pcall(skynet.call, h, "lua", "ping")
  local waited = skynet.now() - t0
  t.check(ok, "call after the loop: " .. tostring(pong))
  t.eq(pong, "pong", "answers after the loop was interrupted (waited " .. waited .. " cs)")
  t.eq(endless1, true, "skynet.endless() is true after an endless loop")
  t.eq(stat1, 0, "reading the flag cleared it (stat endless)")
  local _, endless2, stat2 = skynet.call(h, "lua", "ping")
  t.eq(endless2, false, "the endless flag is reported once")
  t.eq(stat2, 0, "stat endless is 0 afterwards")

  -- it can happen again
  skynet.send(h, "lua", "loop")
  local ok3, pong3 = pcall(skynet.call, h, "lua", "ping")
  t.check(ok3 and pong3 == "pong", "answers after a second loop: " .. tostring(pong3))
end, { timeout = 900 })
