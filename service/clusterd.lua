-- clusterd: the cluster on this node (one per node: skynet.uniqueservice).
-- It owns the cluster map (node name -> "host:port" or false), the senders (one
-- clustersender per remote node, made on first use), the listeners and their
-- agents (one clusteragent per accepted link), the names registered with
-- cluster.register, and the proxies. Commands (lua protocol):
--
--   reload(map [, replace])   map changes; nil: read the config's `cluster` file again
--   listen(host, port, max)   port nil: host is a node name of the map -> port bound
--   sender(node)              the node's clustersender (made if needed)
--   senders()                 node -> sender
--   proxy(node, name)         a clusterproxy for node/name (one per pair)
--   register(name [, addr])   addr defaults to the caller
--   unregister(name)
--   queryname(name)           -> address or nil
--   registered([since])       -> name -> address, version; since = the current
--                                version waits for the next change (for a registry)
--   subscribe()               (clusteragent) -> the names; later changes are sent to it
--   agent_gone()              (clusteragent) its link is closed
--
-- Map changes reach the senders whose node changed as a "changenode" message,
-- sent before reload returns: a call made after cluster.reload uses the new map.
local skynet = require "skynet"
local socket = require "skynet.socket"

local node_address = {}  -- name -> "host:port" | false
local config = {}        -- the map's "__" keys (nowaiting)
local senders = {}       -- name -> clustersender
local launching = {}     -- name -> coroutines waiting for its sender to be launched
local proxies = {}       -- "node.name" -> clusterproxy
local proxy_launching = {}
local registered = {}    -- name -> address
local names_version = 0
local name_watchers = {} -- coroutines waiting in registered(since)
local subscribers = {}   -- clusteragent -> true
local agent_listener = {} -- clusteragent -> the listener it came from
local gone_early = {}    -- clusteragents that left before their launch returned here
local registry           -- service/cluster_registry.lua when cluster_registry is configured

local command = {}

local function split_address(a)
  local host, port = a:match("^(.+):(%d+)$")
  if host then
    host = host:match("^%[(.*)%]$") or host  -- [::1]:2528
    return host, tonumber(port)
  end
end

local function read_config_file()
  local name = skynet.getenv "cluster"
  if not name then return {} end
  local f = assert(io.open(name), "cluster: cannot open the cluster map " .. name)
  local source = f:read "a"
  f:close()
  local env = {}
  local chunk = assert(load(source, "@" .. name, "t", env))
  local returned = chunk()
  -- A file may assign names (skynet's form) or return a table.
  if type(returned) == "table" then return returned end
  return env
end

local function tell_sender(name)
  local s = senders[name]
  if s then skynet.send(s, "lua", "changenode", node_address[name], config.nowaiting) end
end

-- Checks the whole map before changing anything: a bad map changes nothing.
local function apply(map, replace)
  local nodes, options = {}, {}
  for k, v in pairs(map) do
    if type(k) ~= "string" then
      error("cluster map: key " .. tostring(k) .. " is not a node name")
    end
    if k:sub(1, 2) == "__" then
      options[k:sub(3)] = v
    elseif v == false or (type(v) == "string" and split_address(v)) then
      nodes[k] = v
    else
      error(string.format("cluster map: node %s has a bad address %s (\"host:port\" or false)", k, tostring(v)))
    end
  end
  local all_senders = false
  for k, v in pairs(options) do
    if config[k] ~= v then
      config[k] = v
      skynet.error(string.format("cluster: config %s = %s", k, tostring(v)))
      if k == "nowaiting" then all_senders = true end
    end
  end
  local changed = {}
  for name, address in pairs(nodes) do
    if node_address[name] ~= address then
      node_address[name] = address
      changed[name] = true
    end
  end
  if replace then
    for name, address in pairs(node_address) do
      if nodes[name] == nil and address ~= false then
        node_address[name] = false
        changed[name] = true
      end
    end
  end
  for name in pairs(all_senders and senders or changed) do
    tell_sender(name)
  end
  local n = 0
  for name in pairs(changed) do
    n = n + 1
    if senders[name] then
      skynet.error(string.format("cluster: node [%s] is now %s", name, tostring(node_address[name])))
    end
  end
  return n
end

function command.reload(_, map, replace)
  return apply(map or read_config_file(), replace)
end

-- Listening --------------------------------------------------------------------

local function accept(listener, fd, peer)
  if listener.max and listener.count >= listener.max then
    skynet.error(string.format("cluster: refused %s: %d links already (maxclient)", peer, listener.count))
    socket.close_fd(fd)
    return
  end
  listener.count = listener.count + 1
  local ok, agent = pcall(skynet.newservice, "clusteragent", skynet.self(), fd, peer)
  if ok then
    if gone_early[agent] then
      gone_early[agent] = nil
      listener.count = listener.count - 1
    else
      agent_listener[agent] = listener
    end
  else
    listener.count = listener.count - 1
    skynet.error("cluster: cannot start an agent for " .. peer .. ": " .. tostring(agent))
    socket.close_fd(fd)
  end
end

function command.listen(_, host, port, maxclient)
  local node_name
  if port == nil then
    local address = node_address[host]
    if not address then
      error(string.format("cluster node [%s] is %s", host, address == false and "down" or "not in the cluster map"))
    end
    node_name = host
    host, port = split_address(address)
  end
  local id, addr, bound = socket.listen(host, port)
  local listener = { id = id, max = maxclient, count = 0 }
  socket.start(id, function(fd, peer) accept(listener, fd, peer) end)
  skynet.error(string.format("cluster: listening on %s:%d", addr, bound))
  -- A node opened by name is published in etcd (docs/cluster_registry.md), at
  -- the map's host (what others can reach) and the port bound.
  if node_name and registry then
    local h = host:find(":", 1, true) and ("[" .. host .. "]") or host
    skynet.call(registry, "lua", "node", node_name, h .. ":" .. bound)
  end
  return bound
end

-- Senders and proxies ----------------------------------------------------------

function command.sender(_, node)
  local s = senders[node]
  if s then return s end
  local waiting = launching[node]
  if waiting then
    local co = coroutine.running()
    waiting[#waiting + 1] = co
    skynet.wait(co)
    return senders[node] or error(waiting.err)
  end
  waiting = {}
  launching[node] = waiting
  local ok, handle = pcall(skynet.newservice, "clustersender", node)
  launching[node] = nil
  if ok then
    senders[node] = handle
    -- Sent now, after senders[node] is set: a reload from here on sends the
    -- changes after this, in order.
    tell_sender(node)
  else
    waiting.err = "cluster: cannot start the sender of node [" .. node .. "]: " .. tostring(handle)
  end
  for _, co in ipairs(waiting) do skynet.wakeup(co) end
  return senders[node] or error(waiting.err)
end

function command.senders()
  return senders
end

function command.proxy(_, node, name)
  if name == nil then
    node, name = node:match "^([^@.]+)([@.].+)"
    if name == nil then error("cluster.proxy: invalid name " .. tostring(node)) end
  end
  local fullname = node .. "." .. tostring(name)
  local p = proxies[fullname]
  if p then return p end
  local waiting = proxy_launching[fullname]
  if waiting then
    local co = coroutine.running()
    waiting[#waiting + 1] = co
    skynet.wait(co)
    return proxies[fullname] or error("cluster.proxy: cannot start the proxy of " .. fullname)
  end
  waiting = {}
  proxy_launching[fullname] = waiting
  -- The proxy gets its sender now: it makes no calls of its own (a reply to a
  -- call would be a forwarded message it must free itself).
  local ok, handle = pcall(command.sender, nil, node)
  if ok then ok, handle = pcall(skynet.newservice, "clusterproxy", node, name, handle) end
  proxy_launching[fullname] = nil
  if ok then proxies[fullname] = handle end
  for _, co in ipairs(waiting) do skynet.wakeup(co) end
  if not ok then error(handle) end
  return handle
end

-- Names --------------------------------------------------------------------------

local function names_changed()
  names_version = names_version + 1
  for agent in pairs(subscribers) do
    skynet.send(agent, "lua", "names", registered)
  end
  local watchers = name_watchers
  name_watchers = {}
  for _, co in ipairs(watchers) do skynet.wakeup(co) end
end

function command.register(source, name, addr)
  addr = addr or source
  local old = registered[name]
  if old == addr then return end
  if old then
    error(string.format("cluster name %s is already registered to %s", name, skynet.address(old)))
  end
  -- skynet's rule: an address has one name; a new name replaces the old one.
  for n, a in pairs(registered) do
    if a == addr then registered[n] = nil end
  end
  registered[name] = addr
  skynet.error(string.format("cluster: register %s %s", name, skynet.address(addr)))
  names_changed()
end

function command.unregister(_, name)
  if registered[name] == nil then return end
  registered[name] = nil
  skynet.error(string.format("cluster: unregister %s", name))
  names_changed()
end

function command.queryname(_, name)
  return registered[name]
end

function command.registered(_, since)
  if since ~= nil and since == names_version then
    local co = coroutine.running()
    name_watchers[#name_watchers + 1] = co
    skynet.wait(co)
  end
  return registered, names_version
end

function command.subscribe(source)
  subscribers[source] = true
  return registered
end

function command.agent_gone(source)
  subscribers[source] = nil
  local listener = agent_listener[source]
  if listener then
    listener.count = listener.count - 1
    agent_listener[source] = nil
  else
    gone_early[source] = true
  end
end

skynet.start(function()
  apply(read_config_file())
  skynet.dispatch("lua", function(_, source, cmd, ...)
    local f = command[cmd]
    if not f then error("clusterd: unknown command " .. tostring(cmd)) end
    skynet.retpack(f(source, ...))
  end)
  -- After dispatch is set: the registry calls reload and registered on us.
  if skynet.getenv "cluster_registry" then
    local ok, r = pcall(skynet.newservice, "cluster_registry", skynet.self())
    if ok then
      registry = r
    else
      skynet.error("cluster: cannot start the registry: " .. tostring(r))
    end
  end
end)
