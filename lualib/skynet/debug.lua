-- The "debug" protocol every Lua service answers (skynet.debug): the launcher
-- and the debug console use it to ask a service about itself. skynet.lua
-- loads this module on the first debug message (an idle service that is
-- never inspected does not pay for it) and uses the dispatch it returns.
local io = io
local table = table
local debug = debug

return {
  init = function(skynet, info_func)
    local dbgcmd = {}

    function dbgcmd.MEM()
      skynet.retpack(collectgarbage "count")
    end

    function dbgcmd.GC()
      collectgarbage "collect"
    end

    function dbgcmd.STAT()
      skynet.retpack {
        task = skynet.task(),
        mqlen = skynet.stat "mqlen",
        cpu = skynet.stat "cpu",
        message = skynet.stat "message",
      }
    end

    function dbgcmd.TASK()
      local task = {}
      skynet.task(task)
      skynet.retpack(task)
    end

    function dbgcmd.INFO(...)
      local f = info_func()
      if f then
        skynet.retpack(f(...))
      else
        skynet.retpack(nil)
      end
    end

    function dbgcmd.EXIT()
      skynet.exit()
    end

    function dbgcmd.RUN(source, filename, ...)
      local env = setmetatable({}, { __index = _ENV })
      local f, err = load(source, "@" .. (filename or "inject"), "t", env)
      if not f then
        skynet.retpack(false, err)
        return
      end
      local output = {}
      env.print = function(...)
        local parts = table.pack(...)
        for i = 1, parts.n do parts[i] = tostring(parts[i]) end
        output[#output + 1] = table.concat(parts, "\t")
      end
      local ok, ret = pcall(f, ...)
      skynet.retpack(ok, ok and table.concat(output, "\n") or tostring(ret))
    end

    function dbgcmd.TERM(service)
      skynet.term(service)
    end

    function dbgcmd.SUPPORT(pname)
      return skynet.ret(skynet.pack(skynet.dispatch(pname) ~= nil))
    end

    function dbgcmd.PING()
      return skynet.ret()
    end

    function dbgcmd.LINK()
      skynet.response()  -- never answered: the caller learns when we exit
    end

    local function _debug_dispatch(session, address, cmd, ...)
      local f = dbgcmd[cmd]
      if f == nil then
        skynet.error("unknown debug command " .. tostring(cmd))
        if session ~= 0 then skynet.ret(skynet.pack(nil)) end
        return
      end
      f(...)
    end

    return _debug_dispatch
  end,
}
