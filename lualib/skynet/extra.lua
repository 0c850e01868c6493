-- The less used part of skynet's API. skynet.lua loads it on the first
-- access to a name it does not define itself, so an idle service does not
-- carry these functions (stock Lua keeps a copy of every function per state).
local c = require "skynet.core"

return function(skynet, I)
  local proto = I.proto
  local session_id_coroutine = I.session_id_coroutine
  local session_coroutine_id = I.session_coroutine_id
  local session_coroutine_address = I.session_coroutine_address
  local session_coroutine_tracetag = I.session_coroutine_tracetag
  local unresponse = I.unresponse
  local watching_session = I.watching_session
  local call_failed, yield_call = I.call_failed, I.yield_call
  local error_from = I.error_from
  local coroutine_yield = coroutine.yield
  local traceback = debug.traceback
  local string_format = string.format
  local tostring, type, pairs, error, assert = tostring, type, pairs, error, assert

  function skynet.localname(name)
    return c.addresscommand("QUERY", name)
  end

  function skynet.harbor(addr)
    return c.harbor(addr)
  end

  -- Time.
  local starttime
  function skynet.starttime()
    if not starttime then starttime = c.intcommand "STARTTIME" end
    return starttime
  end

  function skynet.time()
    return skynet.now() / 100 + (starttime or skynet.starttime())
  end

  function skynet.rawsend(addr, typename, msg, sz)
    local p = proto[typename]
    return c.send(addr, p.id, 0, msg, sz)
  end

  function skynet.redirect(dest, source, typename, ...)
    return c.redirect(dest, source, proto[typename].id, ...)
  end

  function skynet.rawcall(addr, typename, msg, sz)
    local p = proto[typename]
    local session = c.send(addr, p.id, nil, msg, sz)
    if session == nil then
      error("call to invalid address " .. skynet.address(addr), 2)
    end
    return yield_call(addr, session)
  end

  -- tern: skynet.call with a time limit in centiseconds. Raises "call timeout"
  -- when no answer came in time; a late answer is dropped.
  function skynet.call_timeout(ti, addr, typename, ...)
    local p = proto[typename]
    local session = c.send(addr, p.id, nil, p.pack(...))
    if session == nil then
      error("call to invalid address " .. skynet.address(addr), 2)
    end
    local co = I.running()
    local timer = c.intcommand("TIMEOUT", ti)
    session_id_coroutine[timer] = co
    session_id_coroutine[session] = co
    watching_session[session] = addr
    local ok, msg, sz, which = coroutine_yield "SUSPEND"
    watching_session[session] = nil
    if which == timer then
      session_id_coroutine[session] = "BREAK"
      error(string_format("call timeout: %s did not answer within %d cs", skynet.address(addr), ti), 2)
    end
    session_id_coroutine[timer] = "BREAK"
    if not ok then call_failed(addr, msg, sz, 3) end
    return p.unpack(msg, sz)
  end

  function skynet.response(pack)
    pack = pack or skynet.pack
    local co = I.running()
    local session = assert(session_coroutine_id[co], "no session")
    session_coroutine_id[co] = nil
    local address = session_coroutine_address[co]
    if session == 0 then
      return function() end  -- a send: there is no one to answer
    end
    local function response(ok, ...)
      if ok == "TEST" or ok == "test" then
        return unresponse[response] ~= nil
      end
      if not address then
        error("Can't response more than once", 2)
      end
      local ret = false
      if unresponse[response] then
        if ok then
          ret = c.send(address, skynet.PTYPE_RESPONSE, session, pack(...)) ~= nil
          if not ret then c.send(address, skynet.PTYPE_ERROR, session, "") end
        else
          ret = c.send(address, skynet.PTYPE_ERROR, session, (...) and tostring((...)) or "") ~= nil
        end
        unresponse[response] = nil
      end
      address = nil
      return ret
    end
    unresponse[response] = address
    return response
  end

  -- Calls waiting on service fail; they are resumed when the running coroutine
  -- next suspends (never from inside it, which would nest framework resumes).
  function skynet.term(service)
    error_from(service)
  end

  function skynet.uniqueservice(global, ...)
    if global == true then
      return assert(skynet.call(".service", "lua", "GLAUNCH", ...))
    end
    return assert(skynet.call(".service", "lua", "LAUNCH", global, ...))
  end

  function skynet.queryservice(global, ...)
    if global == true then
      return assert(skynet.call(".service", "lua", "GQUERY", ...))
    end
    return assert(skynet.call(".service", "lua", "QUERY", global, ...))
  end

  function skynet.kill(name)
    if type(name) == "number" then
      skynet.send(".launcher", "lua", "REMOVE", name, true)
      name = skynet.address(name)
    end
    c.command("KILL", name)
  end

  function skynet.abort(status)
    c.command("ABORT", status and tostring(status) or nil)
  end

  function skynet.setenv(key, value)
    assert(c.command("GETENV", key) == nil, "Can't setenv exist key : " .. key)
    c.command("SETENV", key .. " " .. value)
  end

  function skynet.memlimit(bytes)
    debug.getregistry().memlimit = bytes
    skynet.memlimit = nil  -- once, before the service starts
  end

  function skynet.stat(what)
    return c.intcommand("STAT", what)
  end

  function skynet.endless()
    return c.intcommand("STAT", "endless") == 1
  end

  function skynet.mqlen()
    return c.intcommand("STAT", "mqlen")
  end

  function skynet.task(ret)
    if ret == nil then
      local n = 0
      for _, co in pairs(session_id_coroutine) do
        if type(co) == "thread" then n = n + 1 end
      end
      return n
    end
    local kind = type(ret)
    if kind == "table" then
      for session, co in pairs(session_id_coroutine) do
        if type(co) == "thread" then ret[session] = traceback(co) end
      end
    elseif kind == "number" then
      local co = session_id_coroutine[ret]
      return type(co) == "thread" and traceback(co) or "No session"
    elseif kind == "thread" then
      for session, co in pairs(session_id_coroutine) do
        if co == ret then return session end
      end
    end
  end

  -- Tracing: a tag per coroutine, logged with each trace line.
  local trace_count = 0
  function skynet.trace(info)
    local co = I.running()
    trace_count = trace_count + 1
    local tag = string_format(":%08x-%d", skynet.self(), trace_count)
    session_coroutine_tracetag[co] = tag
    skynet.error(string_format("<TRACE %s> %s", tag, tostring(info or "")))
  end

  function skynet.tracetag()
    return session_coroutine_tracetag[I.running()]
  end

  function skynet.tracelog(...)
    local tag = skynet.tracetag()
    if tag then skynet.error(string_format("<TRACE %s>", tag), ...) end
  end

  function skynet.info_func(func)
    I.info = func  -- read by the debug protocol's INFO
  end
end
