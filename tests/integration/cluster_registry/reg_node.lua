-- A node of tests/integration/cluster_registry_test.sh. It opens the cluster
-- by its name (the registry publishes it in etcd) and registers an "echo"
-- service, then reports every change of the registry's view as a log line
-- the test waits for, and calls through the cluster on each:
--   JOIN node address -> CALL node ok <answer>     (cluster.call(node, "@echo", ...))
--   LEAVE node        -> CALLFAIL node <cs> <error>   (the call must fail, not wait)
--   NAME node name address -> CALLNAME node ok <answer>  (the address etcd gave)
--   UNNAME node name
local skynet = require "skynet"
local cluster = require "skynet.cluster"

local me = skynet.getenv "test_node"

local function log(...) skynet.error(table.concat({ ... }, " ")) end

local function call(tag, node, address, arg)
  local t0 = skynet.now()
  local ok, who, echoed = pcall(cluster.call_timeout, 500, node, address, "echo", arg)
  if ok then
    log(tag, node, "ok", who, echoed)
  else
    log(tag .. "FAIL", node, skynet.now() - t0, (tostring(who):gsub("\n.*", "")))
  end
end

skynet.start(function()
  local echo = skynet.newservice "reg_echo"
  cluster.register("echo", echo)
  cluster.open(me)
  local registry = ".cluster_registry"

  local seen_nodes, seen_names = {}, {}
  skynet.fork(function()
    while true do
      local nodes = skynet.call(registry, "lua", "nodes")
      for n, addr in pairs(nodes) do
        if seen_nodes[n] ~= addr then
          log("JOIN", n, addr)
          if n ~= me then skynet.fork(call, "CALL", n, "@echo", "ping") end
        end
      end
      for n in pairs(seen_nodes) do
        if not nodes[n] then
          log("LEAVE", n)
          if n ~= me then skynet.fork(call, "CALL", n, "@echo", "ping") end
        end
      end
      seen_nodes = nodes
      local names = skynet.call(registry, "lua", "names")
      local flat = {}
      for n, t in pairs(names) do
        for name, addr in pairs(t) do flat[n .. " " .. name] = addr end
      end
      for k, addr in pairs(flat) do
        if seen_names[k] ~= addr then
          log("NAME", k, addr)
          local n = k:match("^(%S+)")
          if n ~= me then skynet.fork(call, "CALLNAME", n, tonumber(addr), "byname") end
        end
      end
      for k in pairs(seen_names) do
        if not flat[k] then log("UNNAME", k) end
      end
      seen_names = flat
      skynet.sleep(5)
    end
  end)
end)
