-- datacenterd: the store behind skynet.datacenter. Values live in a tree
-- addressed by a path of keys; WAIT answers once the path has a value.
local skynet = require "skynet"

local store = {}
local waiting = {}  -- same shape as store; leaves are lists of response closures
local command = {}

local function lookup(tree, key, ...)
  if select("#", ...) == 0 then
    return tree[key]
  end
  local sub = tree[key]
  if type(sub) ~= "table" then return nil end
  return lookup(sub, ...)
end

function command.QUERY(key, ...)
  return lookup(store, key, ...)
end

-- UPDATE k1 k2 ... value: sets the value, returns the old one, wakes waiters.
local function update(tree, wait_tree, ...)
  local n = select("#", ...)
  local key, value = ...
  if n == 2 then
    local old = tree[key]
    tree[key] = value
    local list = wait_tree and wait_tree[key]
    if type(list) == "table" and list.waiters then
      if wait_tree then wait_tree[key] = nil end
      for _, respond in ipairs(list.waiters) do respond(true, value) end
    end
    return old
  end
  local sub = tree[key]
  if type(sub) ~= "table" then
    sub = {}
    tree[key] = sub
  end
  local wait_sub = wait_tree and wait_tree[key]
  if wait_sub and wait_sub.waiters then wait_sub = nil end
  return update(sub, wait_sub, select(2, ...))
end

function command.UPDATE(...)
  assert(select("#", ...) >= 2, "datacenter.set needs a key and a value")
  return update(store, waiting, ...)
end

local function add_waiter(tree, respond, key, ...)
  if select("#", ...) == 0 then
    local list = tree[key]
    if list == nil then
      list = { waiters = {} }
      tree[key] = list
    end
    table.insert(list.waiters, respond)
    return
  end
  local sub = tree[key]
  if sub == nil then
    sub = {}
    tree[key] = sub
  end
  return add_waiter(sub, respond, ...)
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    if cmd == "WAIT" then
      local value = lookup(store, ...)
      if value ~= nil then
        skynet.ret(skynet.pack(value))
      else
        add_waiter(waiting, skynet.response(), ...)
      end
      return
    end
    local f = assert(command[cmd], "unknown datacenter command " .. tostring(cmd))
    skynet.ret(skynet.pack(f(...)))
  end)
end)
