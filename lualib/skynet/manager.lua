-- skynet.manager: service management on top of skynet.lua.
local skynet = require "skynet"
local c = require "skynet.core"

function skynet.launch(...)
  local addr = c.command("LAUNCH", table.concat({ ... }, " "))
  if addr then
    return tonumber(string.sub(addr, 2), 16)
  end
end

-- A name without a leading dot is node-global in skynet (harbor mode), which
-- arrives with the cluster layer; until then it is refused clearly.
local function check_local(name)
  if type(name) ~= "string" or string.sub(name, 1, 1) ~= "." then
    error("global names need harbor mode (not yet available): " .. tostring(name), 3)
  end
end

function skynet.register(name)
  check_local(name)
  c.command("REG", name)
end

function skynet.name(name, handle)
  check_local(name)
  c.command("NAME", name .. " " .. skynet.address(handle))
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
