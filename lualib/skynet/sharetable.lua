-- skynet.sharetable: tables loaded once (from a file, a string or a table)
-- and handed to any service that asks. query returns a plain table; update
-- replaces the stored one for later queries.
local skynet = require "skynet"

local sharetable = {}

local function center()
  return skynet.uniqueservice "sharedatad"
end

local function store(name, value, ...)
  skynet.call(center(), "lua", "UPDATE", "sharetable:" .. name, value, ...)
end

function sharetable.loadfile(filename, ...)
  store(filename, "@" .. filename, ...)
end

function sharetable.loadstring(name, source, ...)
  store(name, source, ...)
end

function sharetable.loadtable(name, tbl)
  assert(type(tbl) == "table", "loadtable needs a table")
  store(name, tbl)
end

function sharetable.query(name)
  local data = skynet.call(center(), "lua", "QUERY", "sharetable:" .. name)
  if data then return skynet.unpack(data) end
end

sharetable.update = sharetable.loadfile

return sharetable
