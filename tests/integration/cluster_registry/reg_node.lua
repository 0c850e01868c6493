-- A node of tests/integration/cluster_registry_test.sh. It starts the
-- registry, publishes itself (test_node -> 127.0.0.1:test_port) and an
-- "echo" name, then reports every change of the registry's view as a log line
-- the test waits for:
--   JOIN node address | LEAVE node | NAME node name address | UNNAME node name
local skynet = require "skynet"

local me = skynet.getenv "test_node"
local port = skynet.getenv "test_port"

local function snapshot(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

skynet.start(function()
  local registry = skynet.uniqueservice "cluster_registry"
  local echo = skynet.newservice "reg_echo"
  skynet.call(registry, "lua", "publish", "echo", echo)
  skynet.call(registry, "lua", "node", me, "127.0.0.1:" .. port)

  local seen_nodes, seen_names = {}, {}
  skynet.fork(function()
    while true do
      local nodes = skynet.call(registry, "lua", "nodes")
      for n, addr in pairs(nodes) do
        if seen_nodes[n] ~= addr then skynet.error(string.format("JOIN %s %s", n, addr)) end
      end
      for n in pairs(seen_nodes) do
        if not nodes[n] then skynet.error("LEAVE " .. n) end
      end
      seen_nodes = snapshot(nodes)
      local names = skynet.call(registry, "lua", "names")
      local flat = {}
      for n, t in pairs(names) do
        for name, addr in pairs(t) do flat[n .. " " .. name] = addr end
      end
      for k, addr in pairs(flat) do
        if seen_names[k] ~= addr then skynet.error(string.format("NAME %s %s", k, addr)) end
      end
      for k in pairs(seen_names) do
        if not flat[k] then skynet.error("UNNAME " .. k) end
      end
      seen_names = flat
      skynet.sleep(5)
    end
  end)
end)
