-- General helper: a plain "lua" dispatch.
--   echo ...        -> returns its arguments (skynet.retpack)
--   raw ...         -> same, through skynet.ret(skynet.pack(...))
--   empty           -> skynet.ret() : an empty answer (no values)
--   push v          -> (send) appends v to a list
--   list            -> returns the list and its length
--   whoami          -> returns (source of this request, skynet.self())
--   args            -> returns the service's start arguments
--   co              -> returns tostring(coroutine.running())
local skynet = require "skynet"

local args = table.pack(...)
local pushed = {}

local CMD = {}

function CMD.echo(...)
  skynet.retpack(...)
end

function CMD.raw(...)
  skynet.ret(skynet.pack(...))
end

function CMD.empty()
  skynet.ret()
end

function CMD.push(v)
  pushed[#pushed + 1] = v
end

function CMD.list()
  skynet.retpack(pushed, #pushed)
end

function CMD.co()
  skynet.retpack(tostring(coroutine.running()))
end

function CMD.args()
  skynet.retpack(table.unpack(args, 1, args.n))
end

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    if cmd == "whoami" then
      skynet.retpack(source, skynet.self())
      return
    end
    local f = CMD[cmd]
    if not f then
      error("t_echo: unknown command " .. tostring(cmd))
    end
    f(...)
  end)
end)
