-- make bench SUITE=cluster: node "server" serves an echo service ("@echo");
-- node "client" measures cross-node calls, sends and a 10 MiB transfer to it
-- and prints one JSON line per case, then stops both nodes.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

local seconds = tonumber(skynet.getenv "bench_seconds") or 5

local function report(bench, value, unit)
  print(string.format('{"bench": "%s", "impl": "tern", "value": %.6g, "unit": "%s"}', bench, value, unit))
end

-- Round trips per second with `callers` coroutines calling at once.
local function calls(callers, payload, secs)
  local deadline = skynet.now() + (secs or seconds) * 100
  local done, running = 0, callers
  local co = coroutine.running()
  local t0 = skynet.hpc()
  for _ = 1, callers do
    skynet.fork(function()
      while skynet.now() < deadline do
        cluster.call("server", "@echo", payload)
        done = done + 1
      end
      running = running - 1
      if running == 0 then skynet.wakeup(co) end
    end)
  end
  skynet.wait(co)
  return done / ((skynet.hpc() - t0) / 1e9)
end

-- Sends per second: batches of sends, each closed by a call (which returns
-- after every send before it was handled: one link, in order).
local function sends()
  local deadline = skynet.now() + seconds * 100
  local n = 0
  local t0 = skynet.hpc()
  while skynet.now() < deadline do
    for _ = 1, 1000 do cluster.send("server", "@echo", "x") end
    cluster.call("server", "@echo", "sync")
    n = n + 1000
  end
  return n / ((skynet.hpc() - t0) / 1e9)
end

-- Seconds for a call carrying 10 MiB (the answer is its length): median of 5.
local function transfer()
  local parts = {}
  for k = 1, 10 * 1024 do parts[k] = string.pack(">I4", k) .. string.rep("z", 1020) end
  local data = table.concat(parts)
  local times = {}
  for i = 1, 5 do
    local t0 = skynet.hpc()
    local n = cluster.call("server", "@echo", "len", data)
    times[i] = (skynet.hpc() - t0) / 1e9
    assert(n == #data)
  end
  table.sort(times)
  return times[3]
end

local function client()
  -- Wait for the server node.
  for _ = 1, 100 do
    if pcall(cluster.call_timeout, 50, "server", "@echo", "x") then break end
    skynet.sleep(10)
  end
  calls(4, "warm-up", 1)  -- 1 s, not reported
  report("cluster.call_c1", calls(1, "ping"), "roundtrips/s")
  report("cluster.call_c16", calls(16, "ping"), "roundtrips/s")
  report("cluster.send", sends(), "msgs/s")
  report("cluster.transfer_10mib", transfer(), "s")
  cluster.send("server", "@echo", "quit")
  skynet.sleep(10)
  skynet.abort()
end

local function server()
  local echo = skynet.newservice("bench_cluster_echo")
  cluster.register("echo", echo)
  cluster.open "server"
end

skynet.start(function()
  if skynet.getenv "bench_role" == "client" then
    skynet.fork(client)
  else
    server()
  end
end)
