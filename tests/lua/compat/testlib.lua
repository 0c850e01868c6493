-- Shared helpers for the Lua test services (skynet's public API only).
--
--   local t = require "testlib"
--   t.run("test_x", function() ... end)          -- body runs inside skynet.start
--   t.run("test_x", function() ... end, { timeout = 600 })  -- watchdog in cs
--
-- run prints exactly one line, "PASS test_x" or "FAIL test_x: <reason>", then
-- calls skynet.abort() (from skynet.manager, as in skynet) so the node exits.
local skynet = require "skynet"
require "skynet.manager" -- skynet.abort lives in skynet.manager

local testlib = {}

local DEFAULT_TIMEOUT = 400 -- centiseconds

local function describe(v)
  if type(v) == "string" then
    if #v > 60 then
      return string.format("%q... (%d bytes)", v:sub(1, 40), #v)
    end
    return string.format("%q", v)
  end
  if math.type(v) == "float" then
    return string.format("%.17g (float)", v)
  end
  return tostring(v)
end
testlib.describe = describe

-- Runs body as the service's start function. The first of {body returns,
-- body raises, watchdog fires} decides the result line.
function testlib.run(name, body, opts)
  opts = opts or {}
  local timeout = opts.timeout or DEFAULT_TIMEOUT
  local done = false
  local function finish(ok, msg)
    if done then return end
    done = true
    if ok then
      print("PASS " .. name)
    else
      print("FAIL " .. name .. ": " .. tostring(msg))
    end
    skynet.abort()
  end
  skynet.start(function()
    skynet.timeout(timeout, function()
      finish(false, string.format("watchdog: body did not finish within %d cs (a call or wait hangs?)", timeout))
    end)
    local ok, err = xpcall(body, debug.traceback)
    finish(ok, err)
  end)
end

function testlib.eq(actual, expected, what)
  if actual ~= expected then
    error(string.format("%s: expected %s, got %s", what or "value",
      describe(expected), describe(actual)), 2)
  end
  return actual
end

function testlib.check(cond, what)
  if not cond then
    error("check failed: " .. tostring(what), 2)
  end
  return cond
end
testlib.ok = testlib.check

-- Calls f(...) and expects it to raise; returns the error message (as string).
function testlib.fails(what, f, ...)
  local ok, err = pcall(f, ...)
  if ok then
    error(string.format("%s: expected an error, but it succeeded", what), 2)
  end
  return tostring(err)
end

-- Deep equality of plain data (nil, booleans, numbers with subtype, strings,
-- tables without cycles). Returns true or false, path_of_first_difference.
function testlib.same(a, b, path)
  path = path or "value"
  if type(a) ~= type(b) then
    return false, path .. " (type " .. type(a) .. " vs " .. type(b) .. ")"
  end
  if type(a) == "number" then
    if math.type(a) ~= math.type(b) then
      return false, path .. " (number subtype)"
    end
    if a ~= a and b ~= b then return true end -- both NaN
    if a ~= b then return false, path end
    return true
  end
  if type(a) ~= "table" then
    if a ~= b then return false, path end
    return true
  end
  for k, v in pairs(a) do
    local ok, where = testlib.same(v, b[k], path .. "[" .. tostring(k) .. "]")
    if not ok then return false, where end
  end
  for k in pairs(b) do
    if a[k] == nil then
      return false, path .. "[" .. tostring(k) .. "] (extra key)"
    end
  end
  return true
end

function testlib.check_same(actual, expected, what)
  local ok, where = testlib.same(actual, expected)
  if not ok then
    error(string.format("%s: differs at %s", what or "value", where), 2)
  end
end

-- Runs every function of fns in its own coroutine (skynet.fork), waits for all
-- of them, and returns { table.pack(pcall(fn)) ... } in the order of fns.
function testlib.parallel(fns)
  local results = {}
  local left = #fns
  if left == 0 then return results end
  local token = {}
  for i, f in ipairs(fns) do
    skynet.fork(function()
      results[i] = table.pack(pcall(f))
      left = left - 1
      if left == 0 then skynet.wakeup(token) end
    end)
  end
  -- forks only start once this coroutine suspends, so left > 0 here
  skynet.wait(token)
  return results
end

-- Polls cond() every `step` cs until it is true or `limit` cs passed.
function testlib.wait_until(cond, limit, step)
  limit = limit or 100
  step = step or 1
  local deadline = skynet.now() + limit
  while not cond() do
    if skynet.now() >= deadline then return false end
    skynet.sleep(step)
  end
  return true
end

return testlib
