-- skynet.sharedata: read-only configuration tables published by name. A
-- query returns a proxy that follows updates: each service keeps one copy
-- per name and a monitor that refreshes it when sharedatad has a new version.
-- (skynet shares the bytes between Lua states; here each service holds its
-- own copy, which keeps the API and the update semantics.)
local skynet = require "skynet"

local sharedata = {}
local boxes = {}  -- name -> { data = table, version = n }

local function center()
  return skynet.uniqueservice "sharedatad"
end

local function proxy(box, path)
  local function node()
    local t = box.data
    for _, k in ipairs(path) do
      t = t and t[k]
    end
    if type(t) ~= "table" then error("sharedata: this table no longer exists", 3) end
    return t
  end
  return setmetatable({}, {
    __index = function(_, k)
      local v = node()[k]
      if type(v) == "table" then
        local sub = { table.unpack(path) }
        sub[#sub + 1] = k
        return proxy(box, sub)
      end
      return v
    end,
    __newindex = function() error("sharedata is read-only", 2) end,
    __len = function() return #node() end,
    __pairs = function()
      local t = node()
      return function(_, k)
        local nk, v = next(t, k)
        if type(v) == "table" then
          local sub = { table.unpack(path) }
          sub[#sub + 1] = nk
          v = proxy(box, sub)
        end
        return nk, v
      end, nil, nil
    end,
  })
end

local function watch(name, box)
  skynet.fork(function()
    while true do
      local ok, data, version = pcall(skynet.call, center(), "lua", "MONITOR", name, box.version)
      if not ok or data == nil then
        boxes[name] = nil
        return
      end
      box.data = skynet.unpack(data)
      box.version = version
    end
  end)
end

function sharedata.query(name)
  local box = boxes[name]
  if not box then
    local data, version = skynet.call(center(), "lua", "QUERY", name)
    if not data then error("sharedata " .. tostring(name) .. " does not exist", 2) end
    box = { data = skynet.unpack(data), version = version }
    boxes[name] = box
    watch(name, box)
  end
  return proxy(box, {})
end

function sharedata.new(name, value, ...)
  skynet.call(center(), "lua", "NEW", name, value, ...)
end

function sharedata.update(name, value, ...)
  skynet.call(center(), "lua", "UPDATE", name, value, ...)
end

function sharedata.delete(name)
  skynet.call(center(), "lua", "DELETE", name)
end

function sharedata.flush() end  -- copies are refreshed by their monitors

-- A plain (writable) copy of the table, or of the subtree under the keys.
function sharedata.deepcopy(name, ...)
  local data = skynet.call(center(), "lua", "QUERY", name)
  if not data then error("sharedata " .. tostring(name) .. " does not exist", 2) end
  local t = skynet.unpack(data)
  for _, k in ipairs({ ... }) do
    t = t[k]
    if t == nil then return nil end
  end
  return t
end

return sharedata
