-- service_provider: starts the services of skynet.service, one per name.
local skynet = require "skynet"

local services = {}  -- name -> address, or a list of waiting response closures
local command = {}

function command.launch(name, code, ...)
  local s = services[name]
  if type(s) == "number" then return s end
  if type(s) == "table" then  -- being started: wait for it
    local respond = skynet.response()
    table.insert(s, respond)
    return nil, true
  end
  local waiters = {}
  services[name] = waiters
  local args = table.pack(...)
  local ok, address = pcall(skynet.newservice, "service_cell", name)
  if ok then
    local cell = address
    ok, address = pcall(function()
      skynet.call(cell, "lua", "init", code, table.unpack(args, 1, args.n))
      return cell
    end)
  end
  services[name] = ok and address or nil
  for _, respond in ipairs(waiters) do respond(ok, ok and address or nil) end
  if not ok then error(address) end
  return address
end

function command.query(name)
  local s = services[name]
  if type(s) == "number" then return s end
  if type(s) == "table" then
    table.insert(s, skynet.response())
    return nil, true
  end
  error("no service " .. tostring(name))
end

function command.close(name)
  local s = services[name]
  services[name] = nil
  if type(s) == "number" then return s end
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local f = assert(command[cmd], "unknown service_provider command " .. tostring(cmd))
    local address, deferred = f(...)
    if not deferred then skynet.ret(skynet.pack(address)) end
  end)
end)
