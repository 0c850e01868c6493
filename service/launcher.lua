-- .launcher: launches services for skynet.newservice and answers once the
-- new service has finished its start function (LAUNCHOK) or failed (ERROR).
-- Also lists and inspects the services it launched.
local skynet = require "skynet"
local core = require "skynet.core"
require "skynet.manager"

local services = {}   -- address -> "module args"
local waiting = {}    -- address -> response closure of the newservice call
local command = {}
local NORET = {}

function command.LIST()
  local list = {}
  for addr, desc in pairs(services) do
    list[skynet.address(addr)] = desc
  end
  return list
end

local function ask_all(cmd, fmt)
  local list = {}
  for addr, desc in pairs(services) do
    local ok, value = pcall(skynet.call, addr, "debug", cmd)
    list[skynet.address(addr)] = ok and fmt(value, desc) or ("ERROR (" .. desc .. ")")
  end
  return list
end

function command.STAT()
  return ask_all("STAT", function(stat)
    return string.format("mqlen:%s task:%s cpu:%s message:%s", stat.mqlen, stat.task, stat.cpu, stat.message)
  end)
end

function command.MEM()
  return ask_all("MEM", function(kb, desc) return string.format("%.2f Kb (%s)", kb, desc) end)
end

function command.GC()
  for addr in pairs(services) do
    skynet.send(addr, "debug", "GC")
  end
  return command.MEM()
end

function command.INFO(_, addr, ...)
  return skynet.call(addr, "debug", "INFO", ...)
end

function command.KILL(_, handle)
  skynet.kill(handle)
  local ret = { [skynet.address(handle)] = tostring(services[handle]) }
  services[handle] = nil
  return ret
end

function command.REMOVE(_, handle, kill)
  services[handle] = nil
  local response = waiting[handle]
  if response then
    -- It went away before it finished starting: a service that exits by
    -- itself makes newservice return nil; one that was killed, an error.
    if kill then
      response(false, "service " .. skynet.address(handle) .. " was killed while starting")
    else
      response(true)
    end
    waiting[handle] = nil
  end
  return NORET
end

local function launch_service(log, module, ...)
  local param = table.concat({ ... }, " ")
  local response = skynet.response()
  local inst = skynet.launch(module, param)
  if not inst then
    response(false, "launch " .. module .. " " .. param .. " failed")
    return
  end
  services[inst] = module .. " " .. param
  waiting[inst] = response
  if log then core.command("LOGON", skynet.address(inst)) end
  return inst
end

function command.LAUNCH(_, module, ...)
  launch_service(false, module, ...)
  return NORET
end

function command.LOGLAUNCH(_, module, ...)
  launch_service(true, module, ...)
  return NORET
end

function command.ERROR(address)
  local response = waiting[address]
  if response then
    response(false, "launch " .. tostring(services[address]) .. " failed (see the log)")
    waiting[address] = nil
  end
  services[address] = nil
  return NORET
end

function command.LAUNCHOK(address)
  local response = waiting[address]
  if response then
    response(true, address)
    waiting[address] = nil
  end
  return NORET
end

-- snlua reports a service whose Lua side could not start with a text "ERROR".
skynet.register_protocol {
  name = "text",
  id = skynet.PTYPE_TEXT,
  unpack = skynet.tostring,
  dispatch = function(_, address, cmd)
    if cmd == "" then
      command.LAUNCHOK(address)
    elseif cmd == "ERROR" then
      command.ERROR(address)
    else
      error("Invalid text command " .. tostring(cmd))
    end
  end,
}

skynet.dispatch("lua", function(_, address, cmd, ...)
  cmd = string.upper(cmd)
  local f = command[cmd]
  if not f then
    skynet.ret(skynet.pack { "Unknown command" })
    return
  end
  local ret = f(address, ...)
  if ret ~= NORET then
    skynet.ret(skynet.pack(ret))
  end
end)

skynet.start(function() end)
