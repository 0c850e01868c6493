-- skynet.pack / skynet.unpack / skynet.packstring / skynet.tostring / skynet.trash.
local skynet = require "skynet"
local t = require "testlib"

-- pack to a (pointer, size) buffer, unpack it, free it; returns table.pack of values
local function roundtrip(...)
  local msg, sz = skynet.pack(...)
  t.eq(type(msg), "userdata", "pack returns a pointer")
  t.eq(math.type(sz), "integer", "pack returns a size")
  local r = table.pack(skynet.unpack(msg, sz))
  skynet.trash(msg, sz)
  return r
end

-- the same through packstring
local function roundtrip_string(...)
  local s = skynet.packstring(...)
  t.eq(type(s), "string", "packstring returns a string")
  return table.pack(skynet.unpack(s))
end

local function check_value(v, what)
  for _, rt in ipairs { roundtrip, roundtrip_string } do
    local r = rt(v)
    t.eq(r.n, 1, what .. ": one value")
    t.check_same(r[1], v, what)
  end
end

t.run("test_pack", function()
  -- nil and booleans
  local r = roundtrip(nil)
  t.eq(r.n, 1, "a single nil is one value")
  t.eq(r[1], nil, "nil")
  check_value(true, "true")
  check_value(false, "false")

  -- integers of every encoded width, with their subtype kept
  local ints = { 0, 1, -1, 127, 128, 255, 256, 0x7fff, 0x8000, 65535, 65536, -65536,
    0x7fffffff, 0x80000000, -0x80000000, -0x80000001, 0xffffffff, 0x100000000,
    1 << 53, math.maxinteger, math.mininteger }
  for _, v in ipairs(ints) do
    check_value(v, "integer " .. v)
  end

  -- floats, including integral-valued ones (must stay floats), inf and NaN
  local floats = { 0.0, -0.0, 0.5, -1.25, 3.0, 1e300, -1e-300, 2^53, 2^63, math.pi,
    math.huge, -math.huge }
  for _, v in ipairs(floats) do
    check_value(v, string.format("float %.17g", v))
  end
  local nan = roundtrip(0 / 0)[1]
  t.check(nan ~= nan, "NaN stays NaN")
  t.eq(math.type(nan), "float", "NaN is a float")
  t.eq(1 / roundtrip(-0.0)[1], -math.huge, "negative zero keeps its sign")

  -- strings: empty, short, at the short/long border, 16-bit and 32-bit lengths,
  -- embedded zeros and all byte values
  local bytes = {}
  for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
  local strs = { "", "a", string.rep("s", 31), string.rep("s", 32), string.rep("m", 255),
    string.rep("m", 65535), string.rep("L", 65536), string.rep("L", 70000),
    string.rep("B", 1024 * 1024 + 3), "\0", "a\0b\0", table.concat(bytes) }
  for _, v in ipairs(strs) do
    check_value(v, "string of " .. #v .. " bytes")
  end

  -- several values, nils included, keep count and order
  r = roundtrip(1, nil, "x", nil, nil)
  t.eq(r.n, 5, "five values with nils")
  t.eq(r[1], 1, "v1")
  t.eq(r[2], nil, "v2")
  t.eq(r[3], "x", "v3")
  t.eq(r[5], nil, "v5")
  t.eq(roundtrip().n, 0, "no values")

  -- tables: array part, hash part, mixed, nested, empty, various key types
  local array30, array31, array300 = {}, {}, {}
  for i = 1, 30 do array30[i] = i end
  for i = 1, 31 do array31[i] = i * 2 end
  for i = 1, 300 do array300[i] = tostring(i) end
  local tables = {
    {},
    { 1, 2, 3 },
    array30, array31, array300,
    { a = 1, b = "two", c = true },
    { 1, 2, 3, x = "y", [10] = 10, [-1] = "neg", [0] = "zero", [2.5] = "float key",
      [true] = "bool key" },
    { nested = { deeper = { deepest = { 1, { 2, { 3 } } } } }, list = { {}, { {} } } },
    { ["with space"] = 1, [""] = "empty key", [string.rep("k", 100)] = "long key" },
    { 1.5, -2, math.maxinteger, false, "s" },
  }
  for i, v in ipairs(tables) do
    check_value(v, "table #" .. i)
  end
  -- the result is a fresh table
  local src = { 1, { 2 } }
  local copy = roundtrip(src)[1]
  t.check(copy ~= src and copy[2] ~= src[2], "unpack builds new tables")

  -- 30 levels of nesting are fine; more than 32 is an error
  local function nest(n)
    local root = {}
    local cur = root
    for _ = 1, n - 1 do
      cur.next = {}
      cur = cur.next
    end
    cur.leaf = true
    return root
  end
  check_value(nest(30), "30 levels")
  t.fails("packing 40 levels of nesting", skynet.pack, nest(40))
  t.fails("packstring of 40 levels of nesting", skynet.packstring, nest(40))

  -- a cyclic table cannot be packed (depth limit), no hang, no crash
  local cyclic = { name = "loop" }
  cyclic.self = cyclic
  t.fails("packing a cyclic table", skynet.pack, cyclic)
  local a, b = {}, {}
  a.b, b.a = b, a
  t.fails("packing a two-table cycle", skynet.pack, a)

  -- values that cannot be serialized
  t.fails("packing a function", skynet.pack, print)
  t.fails("packing a coroutine", skynet.pack, coroutine.create(print))
  t.fails("packing a function inside a table", skynet.pack, { f = print })

  -- packing still works after those errors
  check_value({ after = "errors" }, "pack after errors")

  -- tostring(msg, sz) gives the bytes; unpack of that string is the same
  local msg, sz = skynet.pack("hello", 42, { k = "v" })
  local s = skynet.tostring(msg, sz)
  t.eq(type(s), "string", "tostring returns a string")
  t.eq(#s, sz, "tostring has sz bytes")
  t.eq(s, skynet.packstring("hello", 42, { k = "v" }), "pack and packstring give the same bytes")
  local x, y, z = skynet.unpack(s)
  t.eq(x, "hello", "unpack(tostring) 1")
  t.eq(y, 42, "unpack(tostring) 2")
  t.eq(z.k, "v", "unpack(tostring) 3")
  skynet.trash(msg, sz)

  -- unpack of nothing gives nothing
  t.eq(select("#", skynet.unpack("")), 0, "unpack of an empty string")

  -- truncated or corrupt input raises instead of crashing
  -- (one table value: no proper prefix of it is a complete message)
  local whole = skynet.packstring({ "a string that is longer than thirty-one bytes", 1, 2.5, -70000,
    k = { true, false }, [100] = "x" })
  for cut = 1, #whole - 1 do
    local ok = pcall(skynet.unpack, whole:sub(1, cut))
    t.eq(ok, false, "unpack of the first " .. cut .. " of " .. #whole .. " bytes")
  end

  -- values packed in one service unpack the same in another (through a call)
  local e = skynet.newservice("t_echo")
  for i, v in ipairs(tables) do
    t.check_same(skynet.call(e, "lua", "echo", v), v, "table #" .. i .. " through a call")
  end
  for _, v in ipairs(ints) do
    local back = skynet.call(e, "lua", "echo", v)
    t.eq(back, v, "integer " .. v .. " through a call")
    t.eq(math.type(back), "integer", "integer subtype through a call")
  end
  t.eq(math.type(skynet.call(e, "lua", "echo", 3.0)), "float", "3.0 stays a float through a call")
end)
