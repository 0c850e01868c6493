-- A request handler that raises: the caller's call raises, the callee lives on.
local skynet = require "skynet"
local t = require "testlib"

t.run("test_error", function()
  local h = skynet.newservice("t_fail")

  local ok, err = pcall(skynet.call, h, "lua", "boom")
  t.eq(ok, false, "call into a raising handler fails")
  t.eq(type(err), "string", "the error is a message")
  t.eq(select(2, skynet.call(h, "lua", "ok")), 2, "callee answers after the error")
  t.eq(skynet.call(h, "lua", "ok"), "fine", "and again")

  -- the error happens after the handler yielded
  ok = pcall(skynet.call, h, "lua", "boom_late")
  t.eq(ok, false, "raise after a sleep fails the call too")
  t.eq(skynet.call(h, "lua", "ok"), "fine", "callee answers after a late error")

  -- an error in a handler for a send has nobody to tell; the service lives on
  skynet.send(h, "lua", "boom_send")
  local fine, n = skynet.call(h, "lua", "ok")
  t.eq(fine, "fine", "callee answers after an error in a send handler")
  t.eq(n, 7, "every request was handled")

  -- several concurrent callers: only the failing ones see errors
  local res = t.parallel {
    function() return skynet.call(h, "lua", "boom_late") end,
    function() return skynet.call(h, "lua", "ok") end,
    function() return skynet.call(h, "lua", "boom") end,
    function() return skynet.call(h, "lua", "ok") end,
  }
  t.eq(res[1][1], false, "concurrent boom_late fails")
  t.eq(res[2][1], true, "concurrent ok succeeds")
  t.eq(res[3][1], false, "concurrent boom fails")
  t.eq(res[4][1], true, "concurrent ok succeeds (2)")

  -- a service without a "lua" dispatch function: the call fails, no hang
  local nd = skynet.newservice("t_nodispatch")
  ok = pcall(skynet.call, nd, "lua", "anything")
  t.eq(ok, false, "call to a service without a lua dispatch fails")

  -- a protocol the callee never registered: the call fails, no hang
  skynet.register_protocol {
    name = "client",
    id = skynet.PTYPE_CLIENT,
    pack = skynet.pack,
    unpack = skynet.unpack,
  }
  ok = pcall(skynet.call, h, "client", "x")
  t.eq(ok, false, "call with a protocol the callee does not know fails")
  t.eq(skynet.call(h, "lua", "ok"), "fine", "callee still fine")

  -- errors raised by the caller itself propagate normally through pcall
  local ok3, err3 = pcall(function() error({ code = 7 }) end)
  t.eq(ok3, false, "local error")
  t.eq(type(err3) == "table" and err3.code, 7, "error objects survive pcall")
end)
