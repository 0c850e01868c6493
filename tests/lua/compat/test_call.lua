-- skynet.call / skynet.ret / skynet.retpack / skynet.send between two services.
local skynet = require "skynet"
local t = require "testlib"

t.run("test_call", function()
  local e = skynet.newservice("t_echo")
  t.eq(math.type(e), "integer", "newservice returns an integer address")

  -- one value, several values, values of every plain type
  t.eq(skynet.call(e, "lua", "echo", "hello"), "hello", "single value")
  local a, b, c, d = skynet.call(e, "lua", "echo", 1, "two", true, 4.5)
  t.eq(a, 1, "1st of 4")
  t.eq(b, "two", "2nd of 4")
  t.eq(c, true, "3rd of 4")
  t.eq(d, 4.5, "4th of 4")

  -- nils keep their place, the count of values is exact
  local r = table.pack(skynet.call(e, "lua", "echo", nil, 2, nil))
  t.eq(r.n, 3, "number of values with nils")
  t.eq(r[1], nil, "leading nil")
  t.eq(r[2], 2, "middle value")
  t.eq(r[3], nil, "trailing nil")

  -- skynet.ret(skynet.pack(...)) is the same as retpack
  local x, y = skynet.call(e, "lua", "raw", "p", 7)
  t.eq(x, "p", "ret(pack) 1st")
  t.eq(y, 7, "ret(pack) 2nd")

  -- skynet.ret() with no message: the call returns no values
  t.eq(select("#", skynet.call(e, "lua", "empty")), 0, "empty answer has no values")

  -- tables travel by value
  local tbl = { 1, 2, 3, name = "n", sub = { k = "v" } }
  local back = skynet.call(e, "lua", "echo", tbl)
  t.check_same(back, tbl, "table through a call")
  t.check(back ~= tbl, "a copy, not the same table")

  -- many values and a large payload (> 64 KiB)
  local many = {}
  for i = 1, 200 do many[i] = i end
  local m = table.pack(skynet.call(e, "lua", "echo", table.unpack(many)))
  t.eq(m.n, 200, "200 values")
  t.eq(m[200], 200, "last of 200")
  local big = string.rep("0123456789", 20000)
  t.eq(skynet.call(e, "lua", "echo", big), big, "200 KB string")

  -- the callee sees us as the source; addresses agree
  local src, self_of_callee = skynet.call(e, "lua", "whoami")
  t.eq(src, skynet.self(), "source seen by the callee")
  t.eq(self_of_callee, e, "callee's skynet.self()")

  -- sends are one-way and arrive in order, before a later call from us
  for i = 1, 50 do
    t.eq(skynet.send(e, "lua", "push", i), 0, "skynet.send returns session 0")
  end
  local list, n = skynet.call(e, "lua", "list")
  t.eq(n, 50, "all sends arrived before the call")
  for i = 1, 50 do t.eq(list[i], i, "send order at " .. i) end

  -- start arguments arrive as strings
  local e2 = skynet.newservice("t_echo", "alpha", 42)
  local p = table.pack(skynet.call(e2, "lua", "args"))
  t.eq(p.n, 2, "number of service arguments")
  t.eq(p[1], "alpha", "1st service argument")
  t.eq(p[2], "42", "2nd service argument (a string)")

  -- two services answer independently
  t.check(e2 ~= e, "distinct addresses")
  t.eq(skynet.call(e2, "lua", "echo", "second"), "second", "second service")
  t.eq(skynet.call(e, "lua", "echo", "first"), "first", "first service again")
end)
