-- skynet.manager: service management on top of skynet.lua.
local skynet = require "skynet"
local c = require "skynet.core"

function skynet.launch(...)
  local addr = c.command("LAUNCH", table.concat({ ... }, " "))
  if addr then
    return tonumber(string.sub(addr, 2), 16)
  end
end

-- A name without a leading dot is global (harbor mode): registered on every
-- node through the master (docs/harbor.md). Without harbor mode it is an error.
local function globalname(name, handle)
  if type(name) == "string" and string.sub(name, 1, 1) == "." then return false end
  local harbor = require "skynet.harbor"
  harbor.globalname(name, handle)
  return true
end

function skynet.register(name)
  if not globalname(name) then
    c.command("REG", name)
  end
end

function skynet.name(name, handle)
  if not globalname(name, handle) then
    c.command("NAME", name .. " " .. skynet.address(handle))
  end
end

local dispatch_message = skynet.dispatch_message

-- Messages of the types in map are dispatched as the mapped type and their
-- bytes belong to the handler (forwarding without a copy); others are freed.
function skynet.forward_type(map, start_func)
  c.callback(function(ptype, msg, sz, ...)
    local prototype = map[ptype]
    if prototype then
      dispatch_message(prototype, msg, sz, ...)
    else
      local ok, err = pcall(dispatch_message, ptype, msg, sz, ...)
      c.trash(msg, sz)
      assert(ok, err)
    end
  end, true)
  skynet.timeout(0, function() skynet.init_service(start_func) end)
end

function skynet.filter(f, start_func)
  c.callback(function(...) dispatch_message(f(...)) end)
  skynet.timeout(0, function() skynet.init_service(start_func) end)
end

function skynet.monitor(service, query)
  local monitor
  if query then
    monitor = skynet.queryservice(true, service)
  else
    monitor = skynet.uniqueservice(true, service)
  end
  assert(monitor, "Monitor launch failed")
  c.command("MONITOR", string.format(":%08x", monitor))
  return monitor
end

return skynet
