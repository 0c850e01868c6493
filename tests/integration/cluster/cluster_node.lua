-- The start service of a test node: a debug console (the test script drives
-- the node through it), an echo service (".echo", registered as "echo"), a
-- driver (".driver": the scenarios, cluster_driver.lua), and the cluster port
-- of this node's name in the map.
local skynet = require "skynet"
local cluster = require "skynet.cluster"
require "skynet.manager"

skynet.start(function()
  local name = skynet.getenv "node_name"
  skynet.newservice("debug_console", tonumber(skynet.getenv "console_port"))
  local echo = skynet.newservice("cluster_echo", name)
  skynet.name(".echo", echo)
  cluster.register("echo", echo)
  local driver = skynet.newservice("cluster_driver", name)
  skynet.name(".driver", driver)
  local port = cluster.open(name)
  skynet.error(string.format("node %s ready (cluster port %d)", name, port))
end)
