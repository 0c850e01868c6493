local skynet = require "skynet"
local t = require "testlib"
-- pack returns a buffer the receiver frees; here we are the receiver.
local function roundtrip(...)
  local msg, sz = skynet.pack(...)
  return (function(...) skynet.trash(msg, sz) return ... end)(skynet.unpack(msg, sz))
end

t.run("test_pack", function()
  local values = { 0, 1, 255, 256, 65535, 65536, 2^31 - 1, math.tointeger(2^31), -1,
    math.mininteger, math.maxinteger, 0.5, -1.25, true, false, "", "short",
    string.rep("x", 100), string.rep("y", 70000) }
  for _, v in ipairs(values) do
    local got = roundtrip(v)
    t.eq(got, v, "round trip of " .. tostring(v):sub(1, 20))
    t.eq(math.type(got), math.type(v), "number subtype of " .. tostring(v):sub(1, 20))
  end
  local tbl = { 1, 2, 3, x = "y", nested = { a = { b = { 1, 2, { c = true } } } } }
  local big = {}
  for i = 1, 100 do big[i] = i end
  t.check(t.same(roundtrip(tbl), tbl), "nested table")
  t.check(t.same(roundtrip(big), big), "array of 100")
  local a, b, c = roundtrip(nil, 2, nil)
  t.eq(a, nil, "nil first")
  t.eq(b, 2, "middle")
  t.eq(c, nil, "nil last")
  local s = skynet.packstring("str", 9)
  local x, y = skynet.unpack(s)
  t.eq(x, "str", "packstring")
  t.eq(y, 9, "packstring 2")
  local msg, sz = skynet.pack("hello")
  t.eq(skynet.unpack(msg, sz), "hello", "pointer form")
  t.eq(#skynet.tostring(msg, sz), sz, "tostring")
  skynet.trash(msg, sz)
  local deep = {}
  local cur = deep
  for _ = 1, 40 do cur.next = {} cur = cur.next end
  t.eq(pcall(skynet.pack, deep), false, "too deep")
  local cyclic = {}
  cyclic.self = cyclic
  t.eq(pcall(skynet.pack, cyclic), false, "cyclic")
  t.eq(pcall(skynet.pack, function() end), false, "function")
  t.eq(pcall(skynet.unpack, "\x0c"), false, "truncated string")
  t.eq(pcall(skynet.unpack, "\x0e\x02"), false, "truncated table")
  t.eq(pcall(skynet.unpack, "\x07"), false, "unknown type")
end)
