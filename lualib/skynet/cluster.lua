-- skynet.cluster: calls between nodes (skynet's API, tern's own implementation;
-- docs/cluster.md). The services behind it: clusterd (the map, the names, the
-- listeners), one clustersender per remote node (the link to it), one
-- clusteragent per accepted link, clusterproxy for cluster.proxy.
--
-- A call goes caller -> clustersender -> link -> clusteragent -> callee and
-- back the same way. This module only finds the sender of a node (asking
-- clusterd once per node and service) and keeps this service's requests to a
-- node in the order they were made while that first lookup runs.
local skynet = require "skynet"

local clusterd
local cluster = {}
local sender = {}  -- node -> its clustersender
local lookup = {}  -- node -> requests waiting for the first lookup: coroutines and pushes

-- Runs in a fork: asks clusterd for the sender, then lets the waiting requests
-- go in order. A waiting call is woken and makes its call before the next item
-- goes (it wakes q.confirm on its way, which runs once the call has been sent).
local function resolve(node, q)
  local ok, s = pcall(skynet.call, clusterd, "lua", "sender", node)
  if ok then
    sender[node] = s
    q.sender = s
  else
    q.err = s
    skynet.error(s)
  end
  lookup[node] = nil
  q.confirm = coroutine.running()
  for _, item in ipairs(q) do
    if type(item) == "table" then  -- a push: address, msg, sz
      if ok then
        skynet.send(s, "lua", "push", item[1], item[2], item[3])
      else
        skynet.trash(item[2], item[3])
      end
    else
      skynet.wakeup(item)
      skynet.wait(q.confirm)
    end
  end
end

local function queue_of(node)
  local q = lookup[node]
  if not q then
    q = {}
    lookup[node] = q
    skynet.fork(resolve, node, q)
  end
  return q
end

local function get_sender(node)
  local s = sender[node]
  if s then return s end
  local q = queue_of(node)
  local co = coroutine.running()
  q[#q + 1] = co
  skynet.wait(co)
  skynet.wakeup(q.confirm)
  if not q.sender then error(q.err, 2) end
  return q.sender
end

cluster.get_sender = get_sender

function cluster.call(node, address, ...)
  local s = sender[node] or get_sender(node)
  return skynet.call(s, "lua", "req", address, skynet.pack(...))
end

-- tern: cluster.call with a time limit in centiseconds. When no answer came in
-- time the call raises "cluster node [name] (...): call timeout after N cs"; a
-- late answer is dropped. The limit covers waiting for the link too.
function cluster.call_timeout(ti, node, address, ...)
  assert(math.type(ti) == "integer" and ti > 0, "cluster.call_timeout: a positive number of centiseconds")
  local s = sender[node] or get_sender(node)
  local msg, sz = skynet.pack(...)
  return skynet.call(s, "lua", "req", address, msg, sz, ti)
end

function cluster.send(node, address, ...)
  local s = sender[node]
  if s then
    skynet.send(s, "lua", "push", address, skynet.pack(...))
  else
    local q = queue_of(node)
    local msg, sz = skynet.pack(...)
    q[#q + 1] = { address, msg, sz }
  end
end

-- open(port [, host | maxclient]), open("host:port" [, maxclient]), open(node_name [, maxclient]).
-- A port alone listens on 127.0.0.1 (skynet: 0.0.0.0); a node name listens on
-- the address the cluster map gives it. Returns the port bound.
function cluster.open(port, opt)
  local host, maxclient
  if type(opt) == "string" then
    host = opt
  elseif type(opt) == "number" then
    maxclient = opt
  end
  if type(port) == "string" then
    local h, p = port:match("^(.*):(%d+)$")
    if h then
      return skynet.call(clusterd, "lua", "listen", h, tonumber(p), maxclient)
    end
    return skynet.call(clusterd, "lua", "listen", port, nil, maxclient)
  end
  return skynet.call(clusterd, "lua", "listen", host or "127.0.0.1", port, maxclient)
end

-- reload(map): names in map change (skynet merges: names not in map stay);
-- reload(map, true): the map replaces the old one (names not in it are down);
-- reload(): reads the config's cluster file again.
function cluster.reload(config, replace)
  skynet.call(clusterd, "lua", "reload", config, replace)
end

function cluster.proxy(node, name)
  return skynet.call(clusterd, "lua", "proxy", node, name)
end

function cluster.snax()
  error("cluster.snax: snax is not available in tern", 2)
end

function cluster.register(name, addr)
  assert(type(name) == "string")
  assert(addr == nil or type(addr) == "number")
  return skynet.call(clusterd, "lua", "register", name, addr)
end

function cluster.unregister(name)
  assert(type(name) == "string")
  return skynet.call(clusterd, "lua", "unregister", name)
end

function cluster.query(node, name)
  return skynet.call(get_sender(node), "lua", "req", 0, skynet.pack(name))
end

-- tern: the names registered on this node, name -> address, and a version
-- number. With since = the version last seen, waits until the names change.
function cluster.registered(since)
  return skynet.call(clusterd, "lua", "registered", since)
end

skynet.init(function()
  clusterd = skynet.uniqueservice("clusterd")
end)

return cluster
