-- Callers of a service that exits or is killed get errors, not hangs;
-- calls to a dead address fail at once.
local skynet = require "skynet"
require "skynet.manager"
local t = require "testlib"

t.run("test_exit_kill", function()
  -- 1. the callee calls skynet.exit() while two requests are in progress:
  --    the one that asked for the exit and one sleeping in its handler
  local v = skynet.newservice("t_victim")
  t.eq(skynet.call(v, "lua", "ping"), "pong", "victim alive")
  local res = t.parallel {
    function() return skynet.call(v, "lua", "hold", 300) end,
    function()
      skynet.sleep(2)
      return skynet.call(v, "lua", "exit_now")
    end,
  }
  t.eq(res[1][1], false, "caller of a request in progress gets an error when the callee exits")
  t.eq(res[2][1], false, "caller of the request that exits gets an error")

  -- 2. a call to the dead address fails at once
  local t0 = skynet.now()
  local ok, err = pcall(skynet.call, v, "lua", "ping")
  t.eq(ok, false, "call to an exited service")
  t.check(skynet.now() - t0 < 10, "failed at once")
  t.eq(type(err), "string", "error message")

  -- 3. killed by a third service: callers whose requests are in progress or
  --    still queued get errors. The victim is busy (spin) when the kill
  --    comes, so our "ping" is still in its queue then.
  local k = skynet.newservice("t_killer")
  local v2 = skynet.newservice("t_victim")
  t.eq(skynet.call(v2, "lua", "ping"), "pong", "second victim alive")
  local outcome = {}
  skynet.fork(function()
    outcome.hang = table.pack(pcall(skynet.call, v2, "lua", "hang"))
  end)
  skynet.fork(function()
    skynet.sleep(1)
    skynet.send(v2, "lua", "spin", 40)
    outcome.ping = table.pack(pcall(skynet.call, v2, "lua", "ping"))
  end)
  skynet.sleep(5) -- v2 is spinning now, "ping" waits in its queue
  t.eq(skynet.call(k, "lua", "kill", v2), true, "killer answered")
  t.check(t.wait_until(function() return outcome.ping and outcome.hang end, 200),
    "callers of the killed service resumed (ping: " .. tostring(outcome.ping ~= nil)
    .. ", hang: " .. tostring(outcome.hang ~= nil) .. ")")
  t.eq(outcome.ping[1], false, "queued call to a killed service fails")
  t.eq(outcome.hang[1], false, "call in progress in a killed service fails")

  -- 4. calls to the killed address fail at once
  t0 = skynet.now()
  t.eq(pcall(skynet.call, v2, "lua", "ping"), false, "call to a killed service")
  t.check(skynet.now() - t0 < 10, "failed at once")

  -- 5. an address that never existed
  local bogus = (skynet.self() & 0xff000000) | 0x00fffff0
  t.eq(pcall(skynet.call, bogus, "lua", "ping"), false, "call to an address that never existed")

  -- 6. killing by name works too, and the rest of the node is fine
  local v3 = skynet.newservice("t_victim")
  skynet.name(".victim3", v3)
  t.eq(skynet.call(".victim3", "lua", "ping"), "pong", "call by local name")
  skynet.kill(".victim3")
  skynet.sleep(2)
  t.eq(pcall(skynet.call, v3, "lua", "ping"), false, "killed by name")
  t.eq(skynet.call(k, "lua", "kill", skynet.newservice("t_victim")), true, "killer still works")
end)
