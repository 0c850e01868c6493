-- skynet.socketchannel: a TCP connection shared by many requests, with
-- automatic reconnection (skynet's API, our own implementation).
--
--   local sc = require "skynet.socketchannel"
--   local ch = sc.channel { host = "127.0.0.1", port = 6379,
--     response = nil or function(sock) return session, ok, data[, padding] end,
--     auth = function(ch) ... end, nodelay = true, backup = { "host", {host=, port=} },
--     overload = function(is_overloaded) ... end }
--
-- Order mode (no desc.response): replies come back in request order;
-- ch:request(req, function(sock) return ok, data end) sends req and runs the
-- function on the reply. Session mode (desc.response): one dispatch coroutine
-- reads every reply with desc.response and wakes the request with that
-- session: ch:request(req, session). Socket failures raise socketchannel.error
-- (or the reader's message) in the requesting coroutine; the next request
-- reconnects.
local skynet = require "skynet"
local socket = require "skynet.socket"
local driver = require "skynet.socketdriver"

local setmetatable, assert, error, pcall, type, ipairs, pairs = setmetatable, assert, error, pcall, type, ipairs, pairs
local table_insert, table_remove = table.insert, table.remove

local socket_channel = {}
local channel = {}
local channel_socket = {}  -- methods of the `sock` the response functions get

local channel_meta = { __index = channel }
local channel_socket_meta = {
  __index = channel_socket,
  __gc = function(so)  -- a socket object dropped without close: shut it
    local fd = so[1]
    so[1] = false
    if fd then socket.shutdown(fd) end
  end,
}

local socket_error = setmetatable({}, { __tostring = function() return "[Error: socket]" end })
socket_channel.error = socket_error

function socket_channel.channel(desc)
  local c = {
    __host = assert(desc.host, "socketchannel: host expected"),
    __port = assert(desc.port, "socketchannel: port expected"),
    __backup = desc.backup,
    __auth = desc.auth,
    __response = desc.response,  -- session mode when set
    __request = {},              -- order mode: reply readers, in order
    __thread = {},               -- order mode: coroutines in order; session mode: session -> coroutine
    __result = {},               -- coroutine -> ok (or socket_error)
    __result_data = {},          -- coroutine -> data (or error message)
    __connecting = {},
    __sock = false,
    __closed = false,
    __authcoroutine = false,
    __nodelay = desc.nodelay,
    __overload_notify = desc.overload,
    __overload = false,
  }
  return setmetatable(c, channel_meta)
end

local function close_channel_socket(self)
  local so = self.__sock
  if so then
    self.__sock = false
    pcall(socket.close, so[1])  -- never raises (it cannot wait inside a finalizer)
  end
end

-- Fails every waiting request.
local function wakeup_all(self, errmsg)
  local threads = self.__thread
  if self.__response then
    for session, co in pairs(threads) do
      threads[session] = nil
      self.__result[co] = socket_error
      self.__result_data[co] = errmsg
      skynet.wakeup(co)
    end
  else
    local requests = self.__request
    for i = #requests, 1, -1 do requests[i] = nil end
    for i = 1, #threads do
      local co = threads[i]
      threads[i] = nil
      if co then  -- false is the stop signal, not a request
        self.__result[co] = socket_error
        self.__result_data[co] = errmsg
        skynet.wakeup(co)
      end
    end
  end
end

-- Hands a reply to its requester; with padding, parts accumulate in a table.
local function deliver(self, co, ok, data)
  self.__result[co] = ok
  local parts = self.__result_data[co]
  if ok and parts then
    table_insert(parts, data)
  else
    self.__result_data[co] = data
  end
  skynet.wakeup(co)
end

local function dispatch_by_session(self)
  local response = self.__response
  while self.__sock do
    local ok, session, result_ok, result_data, padding = pcall(response, self.__sock)
    if ok and session then
      local co = self.__thread[session]
      if co == nil then
        self.__thread[session] = nil
        skynet.error("socket: unknown session :", session)
      elseif padding and result_ok then  -- one part of a multi-part reply
        local parts = self.__result_data[co] or {}
        self.__result_data[co] = parts
        table_insert(parts, result_data)
      else
        self.__thread[session] = nil
        deliver(self, co, result_ok, result_data)
      end
    else
      close_channel_socket(self)
      local errmsg
      if session ~= socket_error then errmsg = session end
      wakeup_all(self, errmsg)
    end
  end
end

-- The next (reader, coroutine) of order mode, waiting for one if none.
local function pop_response(self)
  while true do
    local func, co = table_remove(self.__request, 1), table_remove(self.__thread, 1)
    if func then return func, co end
    local me = coroutine.running()
    self.__wait_response = me
    skynet.wait(me)
  end
end

local function push_response(self, response, co)
  if self.__response then
    self.__thread[response] = co  -- response is the session
  else
    table_insert(self.__request, response)
    table_insert(self.__thread, co)
    local waiting = self.__wait_response
    if waiting then
      self.__wait_response = nil
      skynet.wakeup(waiting)
    end
  end
end

-- Runs a reply reader; a reader returning (true, data, true) has more parts.
local function get_response(func, sock)
  local ok, data, padding = func(sock)
  if not (ok and padding) then return ok, data end
  local parts = { data }
  repeat
    ok, data, padding = func(sock)
    if not ok then return ok, data end
    parts[#parts + 1] = data
  until not padding
  return true, parts
end

local function dispatch_by_order(self)
  while self.__sock do
    local func, co = pop_response(self)
    if not co then  -- the stop signal (a new connection replaces this one, or close)
      wakeup_all(self, "channel_closed")
      break
    end
    local sock = self.__sock
    if not sock then  -- closed by the peer while we waited
      self.__result[co] = socket_error
      skynet.wakeup(co)
      wakeup_all(self)
      break
    end
    local ok, result_ok, result_data = pcall(get_response, func, sock)
    if ok then
      deliver(self, co, result_ok, result_data)
    else
      close_channel_socket(self)
      local errmsg
      if result_ok ~= socket_error then errmsg = result_ok end
      self.__result[co] = socket_error
      self.__result_data[co] = errmsg
      skynet.wakeup(co)
      wakeup_all(self, errmsg)
    end
  end
end

local function dispatch_function(self)
  if self.__response then return dispatch_by_session end
  local fd = self.__sock[1]
  -- Order mode waits in pop_response, not on the socket: learn of a peer
  -- close from the close callback.
  socket.onclose(fd, function(id)
    local so = self.__sock
    if self.__wait_response and so and so[1] == id then
      skynet.error("socket closed by peer : ", self.__host, self.__port)
      close_channel_socket(self)
    end
  end)
  return dispatch_by_order
end

-- Asks the order-mode dispatch coroutine to finish.
local function term_dispatch_thread(self)
  if not self.__response and self.__dispatch_thread then
    push_response(self, true, false)
  end
end

local function connect_once(self)
  if self.__closed then return false end

  local candidates, seen = {}, {}
  local function add_backup()
    for _, addr in ipairs(self.__backup or {}) do
      local host, port
      if type(addr) == "table" then
        host, port = addr.host, addr.port
      else
        host, port = addr, self.__port
      end
      local key = host .. ":" .. port
      if not seen[key] then
        seen[key] = true
        table_insert(candidates, { host = host, port = port })
      end
    end
  end
  local function next_candidate()
    local addr = table_remove(candidates, 1)
    if addr then skynet.error("socket: connect to backup host", addr.host, addr.port) end
    return addr
  end

  local function try(addr)
    local fd, err = socket.open(addr.host, addr.port)
    if not fd then
      local other = next_candidate()
      if other == nil then return false, err end
      return try(other)
    end
    self.__host, self.__port = addr.host, addr.port
    assert(not self.__sock and not self.__authcoroutine)
    term_dispatch_thread(self)
    if self.__nodelay then driver.nodelay(fd) end

    local overload = self.__overload_notify
    if overload then
      local function on_warning(id, size)
        if not (self.__sock and id == self.__sock[1]) then return end
        if size == 0 then
          if self.__overload then
            self.__overload = false
            overload(false)
          end
        elseif not self.__overload then
          self.__overload = true
          overload(true)
        else
          skynet.error(string.format("WARNING: %d K bytes need to send out (fd = %d %s:%s)", size, id,
            self.__host, self.__port))
        end
      end
      skynet.fork(on_warning, fd, 0)
      socket.warning(fd, on_warning)
    end

    while self.__dispatch_thread do  -- the previous connection's dispatcher is finishing
      skynet.yield()
    end

    self.__sock = setmetatable({ fd }, channel_socket_meta)
    self.__dispatch_thread = skynet.fork(function()
      pcall(dispatch_function(self), self)
      self.__dispatch_thread = nil
    end)

    if self.__auth then
      self.__authcoroutine = coroutine.running()
      local ok, message = pcall(self.__auth, self)
      if not ok then
        close_channel_socket(self)
        if message ~= socket_error then skynet.error("socket: auth failed", message) end
      end
      self.__authcoroutine = false
      if ok then
        if not self.__sock then  -- auth may have changed the host: connect again
          return connect_once(self)
        end
      else
        add_backup()  -- auth may have added backup hosts
        local other = next_candidate()
        if other == nil then return false, "no more backup host" end
        return try(other)
      end
    end
    return true
  end

  add_backup()
  return try({ host = self.__host, port = self.__port })
end

-- Connects, retrying with a growing pause (0, 1 s, 2 s ... 10 s, then again),
-- unless `once`.
local function try_connect(self, once)
  local delay = 0
  while not self.__closed do
    local ok, err = connect_once(self)
    if ok then
      if not once then skynet.error("socket: connect to", self.__host, self.__port) end
      return
    elseif once then
      return err
    end
    skynet.error("socket: connect", err)
    if delay > 1000 then
      skynet.error("socket: try to reconnect", self.__host, self.__port)
      skynet.sleep(delay)
      delay = 0
    else
      skynet.sleep(delay)
    end
    delay = delay + 100
  end
end

-- true: usable now; false: closed; nil: (re)connect first.
local function check_connection(self)
  local so = self.__sock
  if so then
    if socket.disconnected(so[1]) then
      skynet.error("socket: disconnect detected ", self.__host, self.__port)
      close_channel_socket(self)
      return
    end
    local authco = self.__authcoroutine
    if not authco or authco == coroutine.running() then return true end
  end
  if self.__closed then return false end
end

local function block_connect(self, once)
  local r = check_connection(self)
  if r ~= nil then return r end
  local err
  local connecting = self.__connecting
  if #connecting > 0 then  -- another coroutine is connecting: wait for it
    local co = coroutine.running()
    table_insert(connecting, co)
    skynet.wait(co)
  else
    connecting[1] = true
    err = try_connect(self, once)
    for i = 2, #connecting do
      local co = connecting[i]
      connecting[i] = nil
      skynet.wakeup(co)
    end
    connecting[1] = nil
  end
  r = check_connection(self)
  if r == nil then
    skynet.error(string.format("Connect to %s:%s failed (%s)", self.__host, self.__port, tostring(err)))
    error(socket_error)
  end
  return r
end

function channel:connect(once)
  self.__closed = false
  return block_connect(self, once)
end

local function wait_for_response(self, response)
  local co = coroutine.running()
  push_response(self, response, co)
  skynet.wait(co)
  local result, data = self.__result[co], self.__result_data[co]
  self.__result[co] = nil
  self.__result_data[co] = nil
  if result == socket_error then
    error(data or socket_error)
  end
  assert(result, data)
  return data
end

local socket_write, socket_lwrite = socket.write, socket.lwrite

local function sock_err(self)
  close_channel_socket(self)
  wakeup_all(self)
  error(socket_error)
end

-- request(req [, response [, padding]]): sends req (and the padding parts, at
-- low priority), then waits for the reply: response is a reader function in
-- order mode, a session in session mode, nil for no reply.
function channel:request(request, response, padding)
  assert(block_connect(self, true), "socketchannel: the channel is closed")
  local fd = self.__sock[1]
  if padding then
    if not socket_lwrite(fd, request) then sock_err(self) end
    for _, part in ipairs(padding) do
      if not socket_lwrite(fd, part) then sock_err(self) end
    end
  elseif not socket_write(fd, request) then
    sock_err(self)
  end
  if response == nil then return end
  return wait_for_response(self, response)
end

-- Session mode: waits for a reply with this session without sending anything.
function channel:response(response)
  assert(block_connect(self), "socketchannel: the channel is closed")
  return wait_for_response(self, response)
end

function channel:close()
  if not self.__closed then
    term_dispatch_thread(self)
    self.__closed = true
    close_channel_socket(self)
  end
end

function channel:changehost(host, port)
  self.__host = host
  if port then self.__port = port end
  if not self.__closed then close_channel_socket(self) end
end

function channel:changebackup(backup)
  self.__backup = backup
end

channel_meta.__gc = channel.close

-- sock:read(sz), sock:readline(sep): raise socketchannel.error on close.
local function raise_on_close(f)
  return function(self, ...)
    local result = f(self[1], ...)
    if not result then error(socket_error) end
    return result
  end
end

channel_socket.read = raise_on_close(socket.read)
channel_socket.readline = raise_on_close(socket.readline)

return socket_channel
