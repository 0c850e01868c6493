-- Helpers for the Lua tests: run a body as the service's start function,
-- print PASS/FAIL, stop the node.
local skynet = require "skynet"

local testlib = {}

function testlib.run(name, body)
  skynet.start(function()
    local ok, err = xpcall(body, debug.traceback)
    if ok then
      print("PASS " .. name)
    else
      print("FAIL " .. name .. ": " .. tostring(err))
    end
    skynet.abort()
  end)
end

function testlib.eq(actual, expected, what)
  if actual ~= expected then
    error(string.format("%s: expected %s, got %s", what or "value", tostring(expected), tostring(actual)), 2)
  end
end

function testlib.check(cond, what)
  if not cond then error("check failed: " .. tostring(what), 2) end
end

-- Deep equality for tables of plain values.
function testlib.same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not testlib.same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

return testlib
