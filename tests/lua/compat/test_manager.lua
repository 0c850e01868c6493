-- skynet.manager: register / name / localname / launch / kill; skynet.self and
-- skynet.address.
local skynet = require "skynet"
require "skynet.manager"
local t = require "testlib"

t.run("test_manager", function()
  -- self and address format
  local me = skynet.self()
  t.eq(math.type(me), "integer", "skynet.self() is an integer")
  t.check(me > 0, "self is not 0")
  t.eq(skynet.self(), me, "self is stable")
  t.eq(skynet.address(me), string.format(":%08x", me), "address format")
  t.check(skynet.address(me):match("^:%x%x%x%x%x%x%x%x$"), "address is ':' + 8 hex digits")
  t.eq(skynet.address(".some_name"), ".some_name", "address of a name is the name")
  t.eq(me >> 24, 1, "harbor id 1 is in the high byte of our address (config harbor = 1)")

  -- register a local name for ourselves
  t.eq(skynet.localname(".tm_self"), nil, "unknown local name is nil")
  skynet.register(".tm_self")
  t.eq(skynet.localname(".tm_self"), me, "localname after register")

  -- launch (no launcher involved) returns an address that works
  -- skynet.launch does not wait for the service's start function (unlike
  -- newservice), so a call right away may reach it before skynet.start ran its
  -- function and set the dispatch; wait until it answers.
  local function ready(addr)
    return t.wait_until(function() return (pcall(skynet.call, addr, "lua", "echo")) end, 100)
  end
  local e = skynet.launch("snlua", "t_echo")
  t.eq(math.type(e), "integer", "launch returns an integer address")
  t.check(e ~= me, "a new address")
  t.check(ready(e), "launched service starts answering")
  t.eq(skynet.call(e, "lua", "echo", "launched"), "launched", "launched service answers")
  local src = skynet.call(e, "lua", "whoami")
  t.eq(src, me, "callee sees our address as source")

  -- launch passes arguments
  local e2 = skynet.launch("snlua", "t_echo", "x1", "x2")
  t.check(ready(e2), "second launched service starts answering")
  local p = table.pack(skynet.call(e2, "lua", "args"))
  t.eq(p.n, 2, "launch arguments")
  t.eq(p[1], "x1", "launch argument 1")
  t.eq(p[2], "x2", "launch argument 2")

  -- name another service; calls and sends by name
  skynet.name(".tm_other", e)
  t.eq(skynet.localname(".tm_other"), e, "localname of a named service")
  t.eq(skynet.call(".tm_other", "lua", "echo", "by name"), "by name", "call by local name")
  skynet.send(".tm_other", "lua", "push", "sent by name")
  local list = skynet.call(e, "lua", "list")
  t.eq(list[1], "sent by name", "send by local name")
  -- a service may have several names
  skynet.name(".tm_alias", e)
  t.eq(skynet.localname(".tm_alias"), e, "second name of the same service")
  t.eq(skynet.localname(".tm_other"), e, "first name still there")

  -- the name is visible from another service
  local e3 = skynet.newservice("t_echo")
  local r = skynet.call(e3, "lua", "echo", skynet.localname(".tm_self"))
  t.eq(r, me, "name value travels")

  -- the system services have their usual names
  t.check(skynet.localname(".launcher"), ".launcher is registered")
  t.check(skynet.localname(".service"), ".service is registered")

  -- launch of an unknown C module fails with nil
  t.eq(skynet.launch("no_such_module_xyz"), nil, "launch of an unknown module returns nil")

  -- kill by address: the service is gone
  skynet.kill(e2)
  skynet.sleep(2)
  t.eq(pcall(skynet.call, e2, "lua", "echo", 1), false, "killed service does not answer")
  t.eq(skynet.call(e, "lua", "echo", "alive"), "alive", "other services unaffected")
end)
