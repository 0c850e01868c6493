-- cluster_registry: cluster membership and names in etcd (docs/cluster_registry.md).
--
-- Started when the config sets cluster_registry = "etcd://host:port[,host:port...]".
-- It keeps one lease alive (cluster_registry_ttl seconds, default 10) and puts
-- under it:
--   PREFIX .. "nodes/" .. node          -> "host:port"   (this node, once cluster.open ran)
--   PREFIX .. "names/" .. node .. "/" .. name -> address (cluster.register names)
-- It watches PREFIX and hands cluster.reload the config file's map merged with
-- etcd's nodes; a node whose key went away (its lease expired: it died) goes
-- back to its file entry, or is given as false (down) when it has none, so
-- calls to it fail at once with an error naming it.
-- etcd errors are retried with back-off and logged once per change of state.
--
-- Commands (skynet.call(".cluster_registry", "lua", cmd, ...)):
--   "node", name, address      publish this node (clusterd calls it on cluster.open)
--   "publish", name, address   publish a cluster.register name
--   "unpublish", name          withdraw it
--   "nodes"                    -> { name = "host:port" } as etcd says now
--   "names"                    -> { node = { name = address } } as etcd says now
--   "resolve", name [, node]   -> node, address: where a published name lives
--   "status"                   -> { lease =, watching =, revision =, node = }
local skynet = require "skynet"
require "skynet.manager"  -- skynet.register
local etcd = require "tern.etcd"

local endpoints = assert(skynet.getenv "cluster_registry", "cluster_registry is not configured")
local prefix = skynet.getenv "cluster_registry_prefix" or "/tern/cluster/"
local ttl = math.max(2, tonumber(skynet.getenv "cluster_registry_ttl") or 10)
local NODES = prefix .. "nodes/"
local NAMES = prefix .. "names/"
local BACKOFF_MIN, BACKOFF_MAX = 10, 200  -- centiseconds

local client                  -- tern.etcd client
local self_node               -- this node's name once published
local published = {}          -- key -> value this node keeps in etcd
local dirty = {}              -- key -> true: not yet put under the current lease
local lease                   -- the current lease id, nil while none
local lease_token = {}        -- wakes the lease loop early
local watching = false
local watch                   -- the open watch, and when it was opened
local watch_opened = 0
local revision = 0

local etcd_nodes = {}         -- node -> "host:port", from etcd
local etcd_names = {}         -- node -> { name -> address }, from etcd
local sent = {}               -- node -> address|false as last given to cluster.reload
-- The clusterd that started us (its handle is our argument); nil when the
-- registry runs alone, which only keeps the maps for "nodes" and "names".
local clusterd = tonumber((...))

-- Logging once per state change: `state[what]` is nil (fine) or the failing step.
local state = {}
local function report(what, err)
  if err then
    if not state[what] then skynet.error(string.format("cluster_registry: %s failing: %s", what, err)) end
    state[what] = err
  elseif state[what] then
    state[what] = nil
    skynet.error(string.format("cluster_registry: %s recovered", what))
  end
end

-- The config's cluster file, as skynet reads it: a chunk whose globals (or
-- returned table) map names to "host:port".
local function read_cluster_file()
  local path = skynet.getenv "cluster"
  if not path then return {} end
  local env = {}
  local chunk, err = loadfile(path, "t", env)
  if not chunk then
    skynet.error("cluster_registry: " .. err)
    return {}
  end
  local ok, ret = pcall(chunk)
  if not ok then
    skynet.error("cluster_registry: " .. tostring(ret))
    return {}
  end
  local map = type(ret) == "table" and ret or env
  local out = {}
  for k, v in pairs(map) do
    if type(k) == "string" and k:sub(1, 2) ~= "__" then out[k] = v end
  end
  return out
end

local file_map = read_cluster_file()

-- Gives cluster.reload what changed: the file's map overlaid with etcd's
-- nodes; names that were known and are now in neither are false.
local function apply()
  local merged = {}
  for k, v in pairs(file_map) do merged[k] = v end
  for k, v in pairs(etcd_nodes) do merged[k] = v end
  local changes, any = {}, false
  for k, v in pairs(merged) do
    if sent[k] ~= v then changes[k], any = v, true end
  end
  for k, v in pairs(sent) do
    if merged[k] == nil and v ~= false then changes[k], any = false, true end
  end
  if not any then return end
  for k, v in pairs(changes) do sent[k] = v end
  if clusterd then
    local ok, err = pcall(skynet.call, clusterd, "lua", "reload", changes)
    if not ok then skynet.error("cluster_registry: cluster.reload failed: " .. tostring(err)) end
  end
end

local function set_key(key, value)  -- value nil: deleted
  if key:sub(1, #NODES) == NODES then
    local node = key:sub(#NODES + 1)
    etcd_nodes[node] = value
  elseif key:sub(1, #NAMES) == NAMES then
    local node, name = key:sub(#NAMES + 1):match("^([^/]+)/(.+)$")
    if node then
      local t = etcd_names[node] or {}
      t[name] = value
      etcd_names[node] = next(t) and t or nil
    end
  end
end

-- Lists PREFIX, then follows it from the next revision; on any error lists again.
local function watch_loop()
  local backoff = BACKOFF_MIN
  while client do
    local map, rev = client:get_prefix(prefix)
    if map then
      report("watch")
      etcd_nodes, etcd_names = {}, {}
      for k, v in pairs(map) do set_key(k, v) end
      revision = rev
      apply()
      local w = client:watch(prefix, rev + 1)
      watch, watch_opened, watching = w, skynet.now(), true
      backoff = BACKOFF_MIN
      while true do
        local events, rev_or_err = w:next()
        if not events then
          if not w.restart then report("watch", rev_or_err) end
          break
        end
        for _, ev in ipairs(events) do
          set_key(ev.key, ev.type == "PUT" and ev.value or nil)
        end
        revision = rev_or_err
        apply()
      end
      watch, watching = nil, false
    else
      report("watch", rev)
    end
    skynet.sleep(backoff)
    backoff = math.min(backoff * 2, BACKOFF_MAX)
  end
end

-- One round: a lease if there is none, the keys not yet under it, and a
-- keepalive. Returns true, or nil and what failed.
local function lease_step(keepalive)
  if not lease then
    local id, err = client:grant(ttl)
    if not id then return nil, "grant: " .. tostring(err) end
    lease = id
    for k in pairs(published) do dirty[k] = true end
  end
  -- A copy of the keys: put yields, and publish() may add keys meanwhile.
  local keys = {}
  for k in pairs(dirty) do keys[#keys + 1] = k end
  for _, k in ipairs(keys) do
    local v = published[k]
    if v then
      local ok, err = client:put(k, v, lease)
      if not ok then
        if tostring(err):find("lease not found", 1, true) then lease = nil end
        return nil, "put: " .. tostring(err)
      end
    end
    -- Unless publish() changed the value while the put was under way.
    if published[k] == v then dirty[k] = nil end
  end
  if keepalive then
    local left, err = client:keepalive(lease)
    if not left then return nil, "keepalive: " .. tostring(err) end
    if left <= 0 then
      lease = nil  -- expired (etcd was away too long): grant again and put everything back
      return nil, "lease expired"
    end
  end
  return true
end

local function lease_loop()
  local interval = math.max(30, ttl * 100 // 3)  -- keep alive three times per TTL
  local backoff = BACKOFF_MIN
  local last_keepalive = skynet.now()
  local failing_since
  while client do
    local due = skynet.now() - last_keepalive >= interval
    local ok, err = lease_step(due)
    if ok then
      report("lease")
      -- etcd was unreachable for the lease but the watch opened before that
      -- never ended: its connection may be dead without a reset (a partition).
      -- Open it again quietly; the list that precedes it loses nothing.
      if failing_since and watch and watch_opened <= failing_since then
        watch.restart = true
        watch:cancel()
      end
      failing_since = nil
      backoff = BACKOFF_MIN
      if due then last_keepalive = skynet.now() end
      local wait = interval - (skynet.now() - last_keepalive)
      if wait > 0 then skynet.sleep(wait, lease_token) end
    else
      report("lease", err)
      failing_since = failing_since or skynet.now()
      skynet.sleep(backoff, lease_token)
      backoff = math.min(backoff * 2, BACKOFF_MAX)
    end
  end
end

local function publish(key, value)
  value = tostring(value)
  if published[key] == value then return end
  published[key] = value
  dirty[key] = true
  skynet.wakeup(lease_token)
end

local function unpublish(key)
  if published[key] == nil then return end
  published[key] = nil
  dirty[key] = nil
  skynet.fork(function()
    local ok, err = client:delete(key)
    if not ok then skynet.error("cluster_registry: delete " .. key .. ": " .. tostring(err)) end
  end)
end

local command = {}
local pending_names = {}  -- name -> address, published before "node"

function command.node(name, address)
  assert(type(name) == "string" and name ~= "" and not name:find("/", 1, true), "bad node name")
  if self_node and self_node ~= name then unpublish(NODES .. self_node) end
  self_node = name
  publish(NODES .. name, address)
  -- Names published before the node had a name go under it now.
  for n, a in pairs(pending_names) do publish(NAMES .. name .. "/" .. n, a) end
  pending_names = {}
  return true
end

function command.publish(name, address)
  assert(type(name) == "string" and name ~= "", "bad name")
  if not self_node then
    pending_names[name] = address
    return true
  end
  publish(NAMES .. self_node .. "/" .. name, address)
  return true
end

function command.unpublish(name)
  pending_names[name] = nil
  if self_node then unpublish(NAMES .. self_node .. "/" .. name) end
  return true
end

function command.nodes()
  return etcd_nodes
end

function command.names()
  return etcd_names
end

function command.resolve(name, node)
  if node then
    local t = etcd_names[node]
    return t and t[name] and node, t and t[name]
  end
  local found = {}
  for n, t in pairs(etcd_names) do
    if t[name] then table.insert(found, n) end
  end
  table.sort(found)  -- the same answer on every node
  local n = found[1]
  if n then return n, etcd_names[n][name] end
end

function command.status()
  return { lease = lease, watching = watching, revision = revision, node = self_node }
end

-- The names clusterd has (cluster.register), followed by long polls: each
-- change is published or withdrawn here.
local function names_loop()
  local version
  local mine = {}  -- name -> address as last published from clusterd
  while client do
    local ok, names, v = pcall(skynet.call, clusterd, "lua", "registered", version)
    if not ok then
      report("names", names)
      skynet.sleep(BACKOFF_MAX)
    else
      report("names")
      version = v
      for name, addr in pairs(names) do
        if mine[name] ~= addr then command.publish(name, addr) end
      end
      for name in pairs(mine) do
        if names[name] == nil then command.unpublish(name) end
      end
      mine = {}
      for name, addr in pairs(names) do mine[name] = addr end
    end
  end
end

skynet.start(function()
  client = etcd.new(endpoints)
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local f = command[cmd]
    if not f then error("cluster_registry: unknown command " .. tostring(cmd)) end
    skynet.retpack(f(...))
  end)
  skynet.fork(lease_loop)
  skynet.fork(watch_loop)
  if clusterd then skynet.fork(names_loop) end
  skynet.register ".cluster_registry"
end)
