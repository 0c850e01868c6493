-- .service: the manager behind skynet.uniqueservice / skynet.queryservice.
-- One instance per name: concurrent requests for a name that is starting
-- wait for the same launch.
local skynet = require "skynet"
require "skynet.manager"

local cmd = {}
local service = {}  -- name -> address, or error string, or {waiting coroutines}

local function launch(name, func, ...)
  local waiters = service[name]
  local ok, handle = pcall(func, ...)
  service[name] = ok and handle or tostring(handle)
  for _, co in ipairs(waiters) do
    skynet.wakeup(co)
  end
  if ok then return handle end
  error(tostring(handle))
end

local function waitfor(name, func, ...)
  local s = service[name]
  if type(s) == "number" then return s end
  if type(s) == "string" then error(s) end
  if s == nil then
    s = {}
    service[name] = s
  end
  if func and not s.launching then
    s.launching = true
    return launch(name, func, ...)
  end
  local co = coroutine.running()
  table.insert(s, co)
  skynet.wait(co)
  s = service[name]
  if type(s) == "string" then error(s) end
  return s
end

function cmd.LAUNCH(name, ...)
  return waitfor(name, skynet.newservice, name, ...)
end

function cmd.QUERY(name)
  return waitfor(name)
end

-- One node: node-global names are the local ones (cluster mode comes later).
cmd.GLAUNCH = cmd.LAUNCH
cmd.GQUERY = cmd.QUERY

function cmd.LIST()
  local list = {}
  for name, s in pairs(service) do
    if type(s) == "number" then
      list[name] = skynet.address(s)
    elseif type(s) == "string" then
      list[name] = "error: " .. s
    else
      list[name] = "starting"
    end
  end
  return list
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, command, ...)
    local f = cmd[command]
    if not f then
      skynet.ret(skynet.pack(nil, "Invalid command " .. tostring(command)))
      return
    end
    local ok, r = pcall(f, ...)
    if ok then
      skynet.ret(skynet.pack(r))
    else
      skynet.ret(skynet.pack(nil, r))
    end
  end)
  if skynet.localname ".service" then
    skynet.error(".service is already registered")
    skynet.exit()
  else
    skynet.register ".service"
  end
end)
