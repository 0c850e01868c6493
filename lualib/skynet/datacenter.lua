-- skynet.datacenter: a node-wide tree of values kept by the datacenterd
-- service. get/set take a path of keys; wait blocks until the value is set.
local skynet = require "skynet"

local datacenter = {}

local function center()
  return skynet.uniqueservice "datacenterd"
end

function datacenter.get(...)
  return skynet.call(center(), "lua", "QUERY", ...)
end

function datacenter.set(...)
  return skynet.call(center(), "lua", "UPDATE", ...)
end

function datacenter.wait(...)
  return skynet.call(center(), "lua", "WAIT", ...)
end

return datacenter
