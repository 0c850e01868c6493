-- tern.etcd: an etcd v3 client for Lua services, on tern.etcdcore (a C++
-- client with its own thread: see src/lua/lua_etcd.hpp). Every call blocks
-- only the calling coroutine; the service keeps handling messages.
--
--   local etcd = require "tern.etcd"
--   local c = etcd.new("etcd://127.0.0.1:2379,127.0.0.1:22379" [, timeout_cs])
--   c:grant(ttl)            -> lease, ttl
--   c:keepalive(lease)      -> ttl (0: the lease is gone)
--   c:revoke(lease)         -> true
--   c:put(key, value [, lease]) -> revision
--   c:get(key)              -> value or nil, revision
--   c:get_prefix(prefix)    -> { key = value, ... }, revision, { kv, ... }
--   c:delete(key) / c:delete_prefix(prefix) -> keys deleted
--   c:watch(prefix, start_revision) -> w
--     w:next()              -> { event, ... }, revision   (blocks until events)
--                              nil, err once the watch has ended
--     w:cancel()
--   c:close()
--
-- Each call returns nil, error on failure (etcd unreachable on every
-- endpoint, timeout, an etcd error); nothing is raised. timeout_cs bounds one
-- request on one endpoint (default 300 = 3 s); a dead endpoint is skipped.
local skynet = require "skynet"
local core = require "tern.etcdcore"

local etcd = {}

-- The message type by which a client's thread says "answers are ready".
etcd.PTYPE = 20

local clients = setmetatable({}, { __mode = "k" })  -- open clients of this service
local protocol_registered = false

local client = {}
client.__index = client

local watcher = {}
watcher.__index = watcher

local function drain(c)
  if not c.core then return end
  for _, a in ipairs(c.core:poll()) do
    local w = c.watches[a.id]
    if w then
      table.insert(w.queue, a)
      if not a.more then c.watches[a.id] = nil end
      if w.waiting then skynet.wakeup(w.waiting) end
    elseif c.waiting[a.id] then
      c.answers[a.id] = a
      skynet.wakeup(c.waiting[a.id])
    end
  end
end

local function register_protocol()
  if protocol_registered then return end
  protocol_registered = true
  skynet.register_protocol {
    name = "tern_etcd",
    id = etcd.PTYPE,
    unpack = function() end,
    dispatch = function()
      for c in pairs(clients) do drain(c) end
    end,
  }
end

function etcd.new(endpoints, timeout_cs)
  register_protocol()
  local urls = core.endpoints(endpoints)
  if #urls == 0 then error("etcd: no endpoint in " .. tostring(endpoints)) end
  local c = setmetatable({
    core = core.client(endpoints, (timeout_cs or 300) * 10, etcd.PTYPE),
    endpoints = urls,
    waiting = {},  -- request id -> coroutine
    answers = {},  -- request id -> answer, until its coroutine runs
    watches = {},  -- watch id -> watcher
  }, client)
  clients[c] = true
  return c
end

local function request(c, method, ...)
  if not c.core then return nil, "etcd client closed" end
  local id = c.core[method](c.core, ...)
  local co = coroutine.running()
  c.waiting[id] = co
  skynet.wait(co)
  c.waiting[id] = nil
  local a = c.answers[id]
  c.answers[id] = nil
  if not a then return nil, "etcd client closed" end
  if not a.ok then return nil, a.error end
  return a
end

function client:grant(ttl)
  local a, err = request(self, "grant", ttl)
  if not a then return nil, err end
  if a.lease == 0 then return nil, "etcd granted no lease" end
  return a.lease, a.ttl
end

function client:keepalive(lease)
  local a, err = request(self, "keepalive", lease)
  if not a then return nil, err end
  return a.ttl
end

function client:revoke(lease)
  local a, err = request(self, "revoke", lease)
  if not a then return nil, err end
  return true
end

function client:put(key, value, lease)
  local a, err = request(self, "put", key, value, lease or 0)
  if not a then return nil, err end
  return a.revision
end

function client:get(key)
  local a, err = request(self, "range", key)
  if not a then return nil, err end
  local kv = a.kvs[1]
  return kv and kv.value, a.revision
end

function client:get_prefix(prefix)
  local a, err = request(self, "range", prefix, core.prefix_end(prefix))
  if not a then return nil, err end
  local map = {}
  for _, kv in ipairs(a.kvs) do map[kv.key] = kv.value end
  return map, a.revision, a.kvs
end

function client:delete(key)
  local a, err = request(self, "delete", key)
  if not a then return nil, err end
  return a.deleted
end

function client:delete_prefix(prefix)
  local a, err = request(self, "delete", prefix, core.prefix_end(prefix))
  if not a then return nil, err end
  return a.deleted
end

function client:watch(prefix, start_revision)
  if not self.core then return nil, "etcd client closed" end
  local id = self.core:watch(prefix, core.prefix_end(prefix), start_revision or 0)
  local w = setmetatable({ client = self, id = id, queue = {}, ended = nil }, watcher)
  self.watches[id] = w
  return w
end

-- Blocks until events arrive. The "created" answer carries no events and is
-- skipped; an answer with ok = false ends the watch.
function watcher:next()
  while true do
    if self.ended then return nil, self.ended end
    local a = table.remove(self.queue, 1)
    if a then
      if not a.ok then
        self.ended = a.error or "watch ended"
        return nil, self.ended
      end
      if #a.events > 0 then return a.events, a.revision end
    else
      self.waiting = coroutine.running()
      skynet.wait(self.waiting)
      self.waiting = nil
    end
  end
end

function watcher:cancel()
  if self.ended then return end
  self.ended = "watch canceled"
  local c = self.client
  c.watches[self.id] = nil
  if c.core then c.core:cancel(self.id) end
  if self.waiting then skynet.wakeup(self.waiting) end
end

function client:close()
  if not self.core then return end
  self.core:close()
  self.core = nil
  clients[self] = nil
  for _, co in pairs(self.waiting) do skynet.wakeup(co) end
  for _, w in pairs(self.watches) do
    w.ended = "etcd client closed"
    if w.waiting then skynet.wakeup(w.waiting) end
  end
  self.watches = {}
end

return etcd
