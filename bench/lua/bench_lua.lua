-- The Lua cases of `make bench SUITE=lua`; one JSON line per case.
-- BENCH_SCALE (environment) scales the counts.
local skynet = require "skynet"

local scale = tonumber(os.getenv "BENCH_SCALE" or "1") or 1
local function scaled(n) return math.max(1, math.floor(n * scale)) end

local function report(bench, value, unit)
  print(string.format('{"bench": "%s", "impl": "tern", "value": %.6g, "unit": "%s"}', bench, value, unit))
  io.stdout:flush()
end

local function seconds(t0) return (skynet.hpc() - t0) / 1e9 end

local function rss_bytes()
  local f = io.open("/proc/self/statm")
  local _, resident = f:read("n", "n")
  f:close()
  return resident * 4096
end

local cases = {}

function cases.call()
  local n = scaled(300000)
  local echo = skynet.newservice("bench_echo")
  local t0 = skynet.hpc()
  for _ = 1, n do skynet.call(echo, "lua", "ping") end
  report("lua.call", n / seconds(t0), "roundtrips/s")
  skynet.kill(echo)
end

function cases.send()
  local n = scaled(1000000)
  local sink = skynet.newservice("bench_echo")
  skynet.call(sink, "lua", "expect", n)
  local t0 = skynet.hpc()
  for i = 1, n do skynet.send(sink, "lua", "count", i) end
  skynet.call(sink, "lua", "wait")  -- answers once all n arrived
  report("lua.send", n / seconds(t0), "msgs/s")
  skynet.kill(sink)
end

function cases.spawn()
  local n = scaled(2000)
  local list = {}
  local t0 = skynet.hpc()
  for i = 1, n do list[i] = skynet.newservice("bench_idle") end
  report("lua.spawn", n / seconds(t0), "services/s")
  for i = 1, n do skynet.kill(list[i]) end
end

function cases.idle_bytes()
  local n = scaled(1000)
  collectgarbage()
  local before = rss_bytes()
  local list = {}
  for i = 1, n do list[i] = skynet.newservice("bench_idle") end
  skynet.sleep(20)
  local after = rss_bytes()
  report("lua.idle_bytes", (after - before) / n, "bytes")
  for i = 1, n do skynet.kill(list[i]) end
end

skynet.start(function()
  local wanted = os.getenv "BENCH_CASES"
  for _, name in ipairs { "idle_bytes", "call", "send", "spawn" } do
    if not wanted or wanted:find(name, 1, true) then cases[name]() end
  end
  skynet.abort()
end)
