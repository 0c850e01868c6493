-- skynet.socket: blocking-style sockets for a Lua service (skynet's API, our
-- own implementation on top of skynet.socketdriver).
--
-- Every socket event reaches the owning service as a PTYPE_SOCKET message; the
-- handlers below keep one state table per socket id and wake the coroutine
-- that waits on it. Received bytes stay in the socket's read buffer (C memory,
-- no Lua string) until a read asks for them.
local driver = require "skynet.socketdriver"
local skynet = require "skynet"
local core = require "skynet.core"

local assert, type, pairs, error = assert, type, pairs, error
local string_format = string.format

-- Buffered bytes past which reading pauses while nobody asks for them.
local PAUSE_AT = 128 * 1024
-- The read buffer functions take skynet's "pool" argument; ours is unused,
-- but readline needs a table there to pop (nil only checks).
local POOL = {}

local socket = {}

-- id -> state. A socket still here when the service's state closes is closed.
local sockets = setmetatable({}, {
  __gc = function(all)
    for id in pairs(all) do
      driver.close(id)
      all[id] = nil
    end
  end,
})
local close_callbacks = {}  -- id -> function(id), called once when the socket closes

local function wake(s)
  local co = s.co
  if co then
    s.co = nil
    s.waking = co  -- woken, not yet run: socket.close keeps the buffer for it
    skynet.wakeup(co)
  end
end

-- Stops reading from the kernel until somebody waits on the socket again.
-- s.pause: nil reading, true paused, false closing (never resume).
local function pause_reading(s, buffered)
  if s.pause ~= nil then return end
  if buffered then
    skynet.error(string_format("Pause socket (%d) size : %d", s.id, buffered))
  else
    skynet.error(string_format("Pause socket (%d)", s.id))
  end
  driver.pause(s.id)
  s.pause = true
  skynet.yield()  -- let socket messages already queued be handled
end

-- Parks the running coroutine until an event for s wakes it.
local function wait(s)
  assert(not s.co, "socket: another coroutine is already waiting on this socket")
  local co = coroutine.running()
  s.co = co
  if s.pause then
    skynet.error(string_format("Resume socket (%d)", s.id))
    driver.start(s.id)
    skynet.wait(co)
    s.pause = nil
  else
    skynet.wait(co)
  end
  s.waking = nil
  -- socket.close waits for the reader to finish before dropping the socket.
  if s.closing then skynet.wakeup(s.closing) end
end

local function fire_onclose(id)
  local cb = close_callbacks[id]
  if cb then
    close_callbacks[id] = nil
    cb(id)
  end
end

-- Event handlers, by tern_socket_message.type.
local on = {}

on[1] = function(id, size, data)  -- DATA
  local s = sockets[id]
  if s == nil or s.buffer == nil then
    skynet.error("socket: drop package from " .. id)
    driver.drop(data, size)
    return
  end
  local buffered = driver.push(s.buffer, POOL, data, size)
  local want = s.read_required
  if type(want) == "number" then  -- read(sz) or read()/block()
    if buffered >= want then
      s.read_required = nil
      if buffered > PAUSE_AT then pause_reading(s, buffered) end
      wake(s)
    end
    return
  end
  if s.buffer_limit and buffered > s.buffer_limit then
    skynet.error(string_format("socket buffer overflow: fd=%d size=%d", id, buffered))
    s.buffer_limit = nil  -- closing: report it once
    driver.close(id)
    return
  end
  if type(want) == "string" then  -- readline(sep)
    if driver.readline(s.buffer, nil, want) then
      s.read_required = nil
      if buffered > PAUSE_AT then pause_reading(s, buffered) end
      wake(s)
    end
  elseif want ~= true and buffered > PAUSE_AT then
    -- Nobody reads (readall waits for the close, so it never pauses).
    pause_reading(s, buffered)
  end
end

-- (A listener's address and port come from socketdriver.listen, not from here.)
on[2] = function(id)  -- CONNECT: connected, started, or transferred
  local s = sockets[id]
  if s == nil or s.connected then return end
  s.connected = true
  wake(s)
end

on[3] = function(id)  -- CLOSE
  local s = sockets[id]
  if s then
    s.connected = false
    wake(s)
  else
    driver.close(id)
  end
  fire_onclose(id)
end

on[4] = function(id, newid, addr)  -- ACCEPT on a listening socket
  local s = sockets[id]
  if s == nil or s.callback == nil then
    driver.close(newid)
    return
  end
  s.callback(newid, addr)
end

on[5] = function(id, _, err)  -- ERROR: the socket is gone
  local s = sockets[id]
  if s == nil then
    driver.shutdown(id)
    skynet.error("socket: error on unknown", id, err)
    fire_onclose(id)
    return
  end
  if s.callback then
    skynet.error("socket: accept error:", err)
    return
  end
  if s.connected then
    skynet.error("socket: error on", id, err)
  elseif s.connecting then
    s.connecting = err
  end
  s.connected = false
  s.error = err
  driver.shutdown(id)
  wake(s)
  -- tern's socket thread sends no CLOSE after an ERROR: the close callback
  -- fires here (skynet's would fire on the CLOSE its shutdown provokes).
  fire_onclose(id)
end

on[6] = function(id, size, data, address)  -- UDP
  local s = sockets[id]
  if s == nil or s.callback == nil then
    skynet.error("socket: drop udp package from " .. id)
    driver.drop(data, size)
    return
  end
  local str = skynet.tostring(data, size)
  core.trash(data, size)
  s.callback(str, address)
end

local function default_warning(id, size)
  if sockets[id] then
    skynet.error(string_format("WARNING: %d K bytes need to send out (fd = %d)", size, id))
  end
end

on[7] = function(id, size)  -- WARNING: size KiB wait to be written (0: drained)
  local s = sockets[id]
  if s then (s.on_warning or default_warning)(id, size) end
end

skynet.register_protocol {
  name = "socket",
  id = skynet.PTYPE_SOCKET,
  unpack = driver.unpack,
  dispatch = function(_, _, kind, ...)
    local f = on[kind]
    if f then f(...) end
  end,
}

-- Registers a TCP socket and waits for its CONNECT (or ERROR). func: the
-- accept callback of a listening socket (no read buffer then).
local function attach(id, func)
  local s = {
    id = id,
    buffer = func == nil and driver.buffer() or nil,
    connected = false,
    connecting = true,
    read_required = false,
    co = false,
    callback = func,
    protocol = "TCP",
  }
  assert(not close_callbacks[id], "socket has onclose callback")
  local old = sockets[id]
  if old and not old.listen then error("socket is not closed") end
  sockets[id] = s
  wait(s)
  local err = s.connecting
  s.connecting = nil
  if s.connected then return id end
  if err == true then err = "closed before connecting" end
  sockets[id] = nil
  driver.clear(s.buffer)
  return nil, err
end

local function get(id)
  local s = sockets[id]
  if s == nil then error("socket: " .. tostring(id) .. " is not an open socket of this service", 3) end
  return s
end

-- TCP ------------------------------------------------------------------------

function socket.open(addr, port)
  local id = driver.connect(addr, port)
  if id < 0 then
    return nil, string_format("connect %s%s failed", addr, port and (":" .. port) or "")
  end
  return attach(id)
end

function socket.bind(os_fd)
  local id = driver.bind(os_fd)
  if id < 0 then return nil, "bind failed" end
  return attach(id)
end

function socket.stdin()
  return socket.bind(0)
end

-- An accepted socket (waits for its "start"), a listening socket (func(newid,
-- addr) is called for each connection), or a socket handed over by another
-- service (waits for its "transfer").
function socket.start(id, func)
  driver.start(id)
  return attach(id, func)
end

function socket.pause(id)
  local s = sockets[id]
  if s then pause_reading(s) end
end

-- Closes now, dropping unsent bytes; a CLOSE follows, socket.close still needed.
function socket.shutdown(id)
  if sockets[id] then driver.shutdown(id) end
end

-- Closes a socket this service never started (socket.close for the others).
function socket.close_fd(id)
  assert(sockets[id] == nil, "Use socket.close instead")
  driver.close(id)
end

-- Closes after the queued bytes are written, and returns when the socket is
-- gone. A coroutine blocked reading it gets false and what was buffered.
function socket.close(id)
  local s = sockets[id]
  if s == nil then return end
  driver.close(id)
  if s.connected then
    s.pause = false  -- never resume reading from here on
    if s.co then
      assert(not s.closing)
      s.closing = coroutine.running()
      skynet.wait(s.closing)
    else
      wait(s)
    end
    s.connected = false
  end
  if sockets[id] == s then sockets[id] = nil end
  -- Free the unread bytes now, unless a woken reader still has to see them
  -- (then the buffer goes with the garbage collector).
  if s.buffer and not s.waking then driver.clear(s.buffer) end
end

-- read(id): whatever is buffered, waiting for some if empty.
-- read(id, sz): exactly sz bytes. On close: false, and what was left.
function socket.read(id, sz)
  local s = get(id)
  if sz == nil then
    local data = driver.readall(s.buffer, POOL)
    if data ~= "" then return data end
    if not s.connected then return false, data end
    assert(not s.read_required, "socket: already reading")
    s.read_required = 0
    wait(s)
    data = driver.readall(s.buffer, POOL)
    if data ~= "" then return data end
    return false, data
  end
  if sz == 0 then return "" end
  local data = driver.pop(s.buffer, POOL, sz)
  if data then return data end
  if s.closing or not s.connected then return false, driver.readall(s.buffer, POOL) end
  assert(not s.read_required, "socket: already reading")
  s.read_required = sz
  wait(s)
  data = driver.pop(s.buffer, POOL, sz)
  if data then return data end
  return false, driver.readall(s.buffer, POOL)
end

-- Everything until the peer closes.
function socket.readall(id)
  local s = get(id)
  if not s.connected then
    local data = driver.readall(s.buffer, POOL)
    return data ~= "" and data
  end
  assert(not s.read_required, "socket: already reading")
  s.read_required = true
  wait(s)
  assert(s.connected == false)
  return driver.readall(s.buffer, POOL)
end

-- One line without its separator (default "\n"); on close: false, the rest.
function socket.readline(id, sep)
  sep = sep or "\n"
  local s = get(id)
  local line = driver.readline(s.buffer, POOL, sep)
  if line then return line end
  if not s.connected then return false, driver.readall(s.buffer, POOL) end
  assert(not s.read_required, "socket: already reading")
  s.read_required = sep
  wait(s)
  line = driver.readline(s.buffer, POOL, sep)
  if line then return line end
  return false, driver.readall(s.buffer, POOL)
end

-- Waits until some bytes arrive (true) or the socket closes (false).
function socket.block(id)
  local s = sockets[id]
  if not s or not s.connected then return false end
  assert(not s.read_required, "socket: already reading")
  s.read_required = 0
  wait(s)
  return s.connected
end

socket.write = assert(driver.send)
socket.lwrite = assert(driver.lsend)
socket.header = assert(driver.header)

function socket.invalid(id)
  return sockets[id] == nil
end

function socket.disconnected(id)
  local s = sockets[id]
  if s then return not (s.connected or s.connecting) end
end

-- listen(host, port [, backlog]) or listen("host:port") -> id, addr, port.
-- port 0 picks a free port (the one returned). Raises if the address cannot be
-- bound. Connections are accepted after socket.start(id, func).
function socket.listen(host, port, backlog)
  local id, addr, bound = driver.listen(host, port, backlog)
  assert(sockets[id] == nil)
  sockets[id] = { id = id, connected = false, listen = true, addr = addr, port = bound }
  return id, addr, bound
end

-- Forgets the socket without closing it, to hand it to another service (which
-- calls socket.start(id)).
function socket.abandon(id)
  local s = sockets[id]
  if s then
    s.connected = false
    wake(s)
    close_callbacks[id] = nil
    sockets[id] = nil
  end
end

-- Closes the socket when more than `limit` bytes wait unread.
function socket.limit(id, limit)
  local s = assert(sockets[id])
  s.buffer_limit = limit
end

-- UDP ------------------------------------------------------------------------

local function new_udp(id, callback)
  assert(not sockets[id], "socket is not closed")
  sockets[id] = { id = id, connected = true, protocol = "UDP", callback = callback }
end

-- callback(data, from): from is a compact address for sendto/udp_address.
function socket.udp(callback, host, port)
  local id = driver.udp(host, port)
  new_udp(id, callback)
  return id
end

function socket.udp_connect(id, addr, port, callback)
  local s = sockets[id]
  if s then
    assert(s.protocol == "UDP")
    if callback then s.callback = callback end
  else
    new_udp(id, callback)
  end
  driver.udp_connect(id, addr, port)
end

function socket.udp_listen(addr, port, callback)
  local id = driver.udp_listen(addr, port)
  new_udp(id, callback)
  return id
end

function socket.udp_dial(addr, port, callback)
  local id = driver.udp_dial(addr, port)
  new_udp(id, callback)
  return id
end

socket.sendto = assert(driver.udp_send)
socket.udp_address = assert(driver.udp_address)
socket.netstat = assert(driver.info)
socket.resolve = assert(driver.resolve)

-- callback(id, size): size KiB are queued for writing; 0 when drained.
function socket.warning(id, callback)
  local s = assert(sockets[id])
  s.on_warning = callback
end

function socket.onclose(id, callback)
  close_callbacks[id] = callback
end

return socket
