-- skynet's Lua API on tern. Our own implementation of the documented API and
-- behaviour, so services written for skynet run unchanged.
--
-- Model: every incoming request runs in its own coroutine (taken from a
-- pool). A coroutine that waits (call, sleep, wait) yields "SUSPEND" and is
-- parked under a session number; the response with that session resumes it.
local c = require "skynet.core"

local coroutine_create = coroutine.create
local coroutine_resume = coroutine.resume
local coroutine_yield = coroutine.yield
local table_remove = table.remove
local table_insert = table.insert
-- debug loads lazily (see src/lua/lazy_libs.hpp); only error paths need it.
local function traceback(...) return debug.traceback(...) end
local tostring, type, pairs, select, error, assert = tostring, type, pairs, select, error, assert
local string_format = string.format

local skynet = {
  PTYPE_TEXT = 0,
  PTYPE_RESPONSE = 1,
  PTYPE_MULTICAST = 2,
  PTYPE_CLIENT = 3,
  PTYPE_SYSTEM = 4,
  PTYPE_HARBOR = 5,
  PTYPE_SOCKET = 6,
  PTYPE_ERROR = 7,
  PTYPE_QUEUE = 8,
  PTYPE_DEBUG = 9,
  PTYPE_LUA = 10,
  PTYPE_SNAX = 11,
  PTYPE_TRACE = 12,
}

skynet.pack = c.pack
skynet.packstring = c.packstring
skynet.unpack = c.unpack
skynet.tostring = c.tostring
skynet.trash = c.trash
skynet.now = c.now
skynet.hpc = c.hpc
skynet.error = c.error

-- Protocols by name and by id.
local proto = {}
skynet.proto = proto  -- read by skynet.debug and skynet.manager

function skynet.register_protocol(class)
  local name, id = class.name, class.id
  assert(type(name) == "string" and type(id) == "number" and id >= 0 and id <= 255,
    "a protocol needs a name and an id in 0..255")
  assert(proto[name] == nil and proto[id] == nil, "protocol " .. name .. " is already registered")
  proto[name] = class
  proto[id] = class
end

-- Coroutine bookkeeping.
local session_id_coroutine = {}       -- session -> waiting coroutine, a timeout function, or "BREAK"
local session_coroutine_id = {}       -- coroutine -> session of the request it serves
local session_coroutine_address = {}  -- coroutine -> who sent that request
local session_coroutine_tracetag = {}
local unresponse = {}                 -- response closure -> address still owed an answer
local wakeup_queue = {}
local sleep_session = {}              -- token -> session it sleeps on
local watching_session = {}           -- session of an outgoing call -> callee
local error_queue = {}
local fork_queue = { h = 1, t = 0 }
local suspend
local internal  -- state shared with skynet.extra, set up at the end

-- The coroutine the framework resumed last. Waiters are registered under it,
-- not under coroutine.running(): inside a skynet.coroutine the running one is
-- the user's, but the framework must resume the outer one (skynet.coroutine
-- passes the values down).
-- Only the dispatcher resumes through resume_co, never a coroutine it runs
-- (that would leave running_thread pointing at the inner one).
local running_thread = nil
local function resume_co(co, ...)
  running_thread = co
  return coroutine_resume(co, ...)
end

-- A pool of coroutines: creating one per message is the expensive part. A
-- pooled coroutine waits at a yield; reusing it stores the next function in
-- co_start, and the first resume delivers the arguments (one resume, not two).
local coroutine_pool = setmetatable({}, { __mode = "kv" })
local co_start = setmetatable({}, { __mode = "k" })

local function run_next(co, ...)
  local f = co_start[co]
  co_start[co] = nil
  return f(...)
end

local function co_create(f)
  local co = table_remove(coroutine_pool)
  if co then
    co_start[co] = f
    return co
  end
  co = coroutine_create(function(...)
    local fn = f
    f = nil
    fn(...)
    while true do
      local session = session_coroutine_id[co]
      if session and session ~= 0 then
        skynet.error(string_format("Maybe forgot response session %s from %s", session,
          skynet.address(session_coroutine_address[co])))
      end
      session_coroutine_id[co] = nil
      session_coroutine_address[co] = nil
      session_coroutine_tracetag[co] = nil
      coroutine_pool[#coroutine_pool + 1] = co
      run_next(co, coroutine_yield "SUSPEND")
    end
  end)
  return co
end

local function dispatch_error_queue()
  local session = table_remove(error_queue, 1)
  if session then
    local co = session_id_coroutine[session]
    session_id_coroutine[session] = nil
    return suspend(co, resume_co(co, false, nil, nil, session))
  end
end

local function dispatch_wakeup()
  while true do
    local token = table_remove(wakeup_queue, 1)
    if token == nil then break end
    local session = sleep_session[token]
    if session then
      local co = session_id_coroutine[session]
      session_id_coroutine[session] = "BREAK"
      return suspend(co, resume_co(co, false, "BREAK", nil, session))
    end
  end
  return dispatch_error_queue()
end

-- Called with what coroutine.resume returned.
function suspend(co, ok, command)
  if ok and command == "SUSPEND" then  -- the common case: a request done or waiting
    if wakeup_queue[1] == nil and error_queue[1] == nil then return end
    return dispatch_wakeup()
  end
  if not ok then
    local session = session_coroutine_id[co]
    if session then
      local address = session_coroutine_address[co]
      if session ~= 0 and address then
        -- The caller gets an error instead of waiting forever.
        c.send(address, skynet.PTYPE_ERROR, session, tostring(command):match("[^\n]*"))
      end
      session_coroutine_id[co] = nil
    end
    session_coroutine_address[co] = nil
    session_coroutine_tracetag[co] = nil
    -- Wakeups this coroutine queued before it failed still have to run: an
    -- empty fork ends in "SUSPEND", which drains the wakeup queue.
    skynet.fork(function() end)
    error(traceback(co, tostring(command)))
  end
  if command == "SUSPEND" then
    return dispatch_wakeup()
  elseif command == "QUIT" then
    return  -- the service is exiting
  elseif command == nil then
    return  -- a coroutine that ended (not from the pool)
  else
    error("Unknown command : " .. tostring(command) .. "\n" .. traceback(co))
  end
end

-- Addresses and names.
local self_handle
function skynet.self()
  if not self_handle then self_handle = c.addresscommand "REG" end
  return self_handle
end

function skynet.address(addr)
  if type(addr) == "number" then
    return string_format(":%08x", addr)
  end
  return tostring(addr)
end

-- Timers and waiting.
function skynet.timeout(ti, func)
  local session = c.intcommand("TIMEOUT", ti)
  assert(session, "TIMEOUT failed")
  -- The coroutine is made only when the timer fires.
  session_id_coroutine[session] = func
end

local function suspend_sleep(session, token)
  session_id_coroutine[session] = running_thread
  sleep_session[token] = session
  return coroutine_yield "SUSPEND"
end

function skynet.sleep(ti, token)
  local session = c.intcommand("TIMEOUT", ti)
  assert(session, "TIMEOUT failed")
  token = token or running_thread
  local ok, ret = suspend_sleep(session, token)
  sleep_session[token] = nil
  if ok then return end
  if ret == "BREAK" then return "BREAK" end
  error(ret)
end

function skynet.yield()
  return skynet.sleep(0)
end

function skynet.wait(token)
  local session = c.genid()
  token = token or running_thread
  suspend_sleep(session, token)
  sleep_session[token] = nil
  session_id_coroutine[session] = nil
end

function skynet.wakeup(token)
  if sleep_session[token] then
    table_insert(wakeup_queue, token)
    return true
  end
end

-- Sending and calling.
function skynet.send(addr, typename, ...)
  local p = proto[typename]
  return c.send(addr, p.id, 0, p.pack(...))
end

-- level: where the error points, counted from call_failed (the caller's call site).
local function call_failed(addr, msg, sz, level)
  local why = (msg and sz and sz > 0) and c.tostring(msg, sz) or nil
  error(string_format("call failed: %s%s", skynet.address(addr), why and (" (" .. why .. ")") or ""), level)
end

local function yield_call(addr, session)
  watching_session[session] = addr
  session_id_coroutine[session] = running_thread
  local ok, msg, sz = coroutine_yield "SUSPEND"
  watching_session[session] = nil
  if not ok then call_failed(addr, msg, sz, 4) end
  return msg, sz
end

function skynet.call(addr, typename, ...)
  local p = proto[typename]
  local session = c.send(addr, p.id, nil, p.pack(...))
  if session == nil then
    error("call to invalid address " .. skynet.address(addr), 2)
  end
  return p.unpack(yield_call(addr, session))
end

-- Answering.
function skynet.ret(msg, sz)
  msg = msg or ""
  local co = running_thread
  local session = session_coroutine_id[co]
  if session == nil then error("No session", 2) end
  session_coroutine_id[co] = nil
  if session == 0 then
    if sz ~= nil then c.trash(msg, sz) end
    return false  -- a send, not a call: nobody waits
  end
  local address = session_coroutine_address[co]
  if c.send(address, 1, session, msg, sz) then return true end  -- PTYPE_RESPONSE
  c.send(address, skynet.PTYPE_ERROR, session, "")
  return false
end

function skynet.retpack(...)
  return skynet.ret(skynet.pack(...))
end

function skynet.ignoreret()
  session_coroutine_id[running_thread] = nil
end

-- Coroutines of the service.
function skynet.fork(func, ...)
  local n = select("#", ...)
  local co
  if n == 0 then
    co = co_create(func)
  else
    local args = { ... }
    co = co_create(function() func(table.unpack(args, 1, n)) end)
  end
  local t = fork_queue.t + 1
  fork_queue.t = t
  fork_queue[t] = co
  return co
end

-- A service that went away: every call waiting on it fails.
local function error_from(source)
  for session, addr in pairs(watching_session) do
    if addr == source then table_insert(error_queue, session) end
  end
  for resp, addr in pairs(unresponse) do
    if addr == source then unresponse[resp] = nil end
  end
end

local function unknown_request(session, address, msg, sz, prototype)
  skynet.error(string_format("Unknown request (%s): %s", prototype, c.tostring(msg, sz)))
  error(string_format("Unknown session : %d from %x", session, address))
end

function skynet.dispatch_unknown_request(unknown)
  local prev = unknown_request
  unknown_request = unknown
  return prev
end

local function unknown_response(session, address, msg, sz)
  skynet.error(string_format("Response message : %s", c.tostring(msg, sz)))
  error(string_format("Unknown session : %d from %x", session, address))
end

function skynet.dispatch_unknown_response(unknown)
  local prev = unknown_response
  unknown_response = unknown
  return prev
end

local function resume_waiter(session, source, ok, msg, sz)
  local co = session_id_coroutine[session]
  if co == "BREAK" then
    session_id_coroutine[session] = nil
  elseif co == nil then
    if ok then unknown_response(session, source, msg, sz) end
  else
    session_id_coroutine[session] = nil
    if type(co) == "function" then  -- a skynet.timeout callback
      co = co_create(co)
      return suspend(co, resume_co(co))
    end
    running_thread = co  -- resume_co, inlined on this hot path
    return suspend(co, coroutine_resume(co, ok, msg, sz, session))
  end
end

local function raw_dispatch_message(prototype, msg, sz, session, source)
  if prototype == 1 then
    return resume_waiter(session, source, true, msg, sz)
  end
  if prototype == 7 then
    if session == 0 then  -- the source is gone: fail every call to it
      error_from(source)
      return dispatch_error_queue()
    end
    if watching_session[session] or type(session_id_coroutine[session]) == "thread" then
      return resume_waiter(session, source, false, msg, sz)
    end
    session_id_coroutine[session] = nil
    return
  end
  local p = proto[prototype]
  local f = p and p.dispatch
  if f == nil then
    if session ~= 0 then
      c.send(source, skynet.PTYPE_ERROR, session, "no dispatch for protocol " .. tostring(prototype))
    end
    return unknown_request(session, source, msg, sz, p and p.name or prototype)
  end
  local co = co_create(f)
  session_coroutine_id[co] = session
  session_coroutine_address[co] = source
  running_thread = co  -- resume_co, inlined on this hot path
  return suspend(co, coroutine_resume(co, session, source, p.unpack(msg, sz)))
end

-- Runs what skynet.fork queued while the message was handled.
local function run_forks(ok, err)
  while fork_queue.h <= fork_queue.t do
    local h = fork_queue.h
    local co = fork_queue[h]
    fork_queue[h] = nil
    fork_queue.h = h + 1
    local fork_ok, fork_err = pcall(suspend, co, resume_co(co))
    if not fork_ok then
      if ok then
        ok, err = false, tostring(fork_err)
      else
        err = tostring(err) .. "\n" .. tostring(fork_err)
      end
    end
  end
  fork_queue.h, fork_queue.t = 1, 0
  return ok, err
end

function skynet.dispatch_message(...)
  local ok, err = pcall(raw_dispatch_message, ...)
  if fork_queue.t > 0 then ok, err = run_forks(ok, err) end
  if not ok then error(tostring(err)) end
end

-- What skynet.start installs: the C callback runs raw_dispatch_message, then
-- the forks only when some are queued (the same as dispatch_message, one
-- protected call fewer per message).
local function run_pending_forks()
  local ok, err = run_forks(true)
  if not ok then error(tostring(err)) end
end

function skynet.dispatch(typename, func)
  local p = proto[typename]
  assert(p, "unknown protocol " .. tostring(typename))
  if func then
    local old = p.dispatch
    p.dispatch = func
    return old
  end
  return p.dispatch
end

-- Services.
function skynet.newservice(name, ...)
  return skynet.call(".launcher", "lua", "LAUNCH", "snlua", name, ...)
end

function skynet.exit()
  for i = fork_queue.h, fork_queue.t do fork_queue[i] = nil end  -- in place: C reads this table
  fork_queue.h, fork_queue.t = 1, 0
  skynet.send(".launcher", "lua", "REMOVE", skynet.self(), false)
  -- Everyone waiting on a request of ours gets an error.
  for co, session in pairs(session_coroutine_id) do
    local address = session_coroutine_address[co]
    if session ~= 0 and address then
      c.send(address, skynet.PTYPE_ERROR, session, "")
    end
  end
  for resp in pairs(unresponse) do
    resp(false)
  end
  -- Services we are calling learn that we are gone.
  local callees = {}
  for _, address in pairs(watching_session) do
    callees[address] = true
  end
  for address in pairs(callees) do
    c.send(address, skynet.PTYPE_ERROR, 0, "")
  end
  c.command "EXIT"
  coroutine_yield "QUIT"
end

function skynet.getenv(key)
  return (c.command("GETENV", key))
end

-- Start-up.
local init_func = {}

function skynet.init(f)
  if init_func == nil then
    f()
  else
    table_insert(init_func, f)
  end
end

local function init_all()
  local funcs = init_func
  init_func = nil
  if funcs then
    for _, f in ipairs(funcs) do f() end
  end
end

function skynet.init_service(start)
  local function main()
    init_all()
    init_func = {}
    start()
    init_all()
  end
  local ok, err = xpcall(main, traceback)
  if not ok then
    skynet.error("init service failed: " .. tostring(err))
    skynet.send(".launcher", "lua", "ERROR")
    skynet.exit()
  else
    skynet.send(".launcher", "lua", "LAUNCHOK")
  end
end

function skynet.start(start_func)
  c.callback(raw_dispatch_message, false, fork_queue, run_pending_forks)
  skynet.timeout(0, function() skynet.init_service(start_func) end)
end

-- The built-in protocols.
skynet.register_protocol { name = "lua", id = skynet.PTYPE_LUA, pack = skynet.pack, unpack = skynet.unpack }
skynet.register_protocol { name = "response", id = skynet.PTYPE_RESPONSE }
skynet.register_protocol { name = "error", id = skynet.PTYPE_ERROR, unpack = function(...) return ... end }

-- What skynet.extra (the rarely used functions) needs of this file's state.
internal = {
  proto = proto,
  session_id_coroutine = session_id_coroutine,
  session_coroutine_id = session_coroutine_id,
  session_coroutine_address = session_coroutine_address,
  session_coroutine_tracetag = session_coroutine_tracetag,
  unresponse = unresponse,
  watching_session = watching_session,
  running = function() return running_thread end,
  call_failed = call_failed,
  yield_call = yield_call,
  error_from = error_from,
}

setmetatable(skynet, {
  __index = function(t, key)
    setmetatable(t, nil)
    require("skynet.extra")(t, internal)
    return rawget(t, key)
  end,
})

skynet.register_protocol {
  name = "debug",
  id = skynet.PTYPE_DEBUG,
  pack = skynet.pack,
  unpack = skynet.unpack,
  dispatch = function(...)  -- loads skynet.debug on first use
    local real = require("skynet.debug").init(skynet, function() return internal.info end)
    proto.debug.dispatch = real
    return real(...)
  end,
}

return skynet
