-- snax.gateserver: the frame of a gate service (skynet's gateserver API, our
-- own code). It listens on a port, cuts every connection's bytes into packets
-- (skynet.netpack: 2-byte big-endian length) and calls the handler:
--
--   handler.connect(fd, addr)       a connection was accepted (required); it is
--                                   not read until gateserver.openclient(fd)
--   handler.message(fd, msg, sz)    one packet (required); msg is a C pointer the
--                                   handler owns: netpack.tostring / skynet.trash
--                                   frees it, skynet.redirect hands it on
--   handler.disconnect(fd)          the connection is gone
--   handler.error(fd, text)         it failed (or sent a packet over the limit)
--   handler.warning(fd, size)       KiB waiting to be written (0: drained)
--   handler.open(source, conf)      after "open" started listening
--   handler.command(cmd, source, ...)  every other "lua" request; its results
--                                   are the answer
--   handler.embed                   true: don't call skynet.start (the caller does)
--
-- "lua" requests handled here: open(conf) with conf.address ("0.0.0.0"),
-- conf.port (required; 0 picks one), conf.maxclient (1024), conf.nodelay,
-- conf.backlog, and tern's conf.maxpacket (the largest packet accepted, see
-- netpack.max); after listening, conf.address and conf.port are the bound
-- ones. close() stops listening.
local skynet = require "skynet"
local netpack = require "skynet.netpack"
local socketdriver = require "skynet.socketdriver"

local gateserver = {}

local socket             -- the listening socket
local queue              -- netpack's packet queue (filter hands it back)
local maxclient          -- connections allowed at once
local client_number = 0
local CMD = setmetatable({}, { __gc = function() netpack.clear(queue) end })
local nodelay = false

-- fd -> true: open; false: we are closing it; nil: not ours (any more).
local connection = {}

function gateserver.openclient(fd)
  if connection[fd] then
    socketdriver.start(fd)
  end
end

function gateserver.closeclient(fd)
  if connection[fd] then
    connection[fd] = false
    socketdriver.close(fd)
  end
end

function gateserver.start(handler)
  assert(handler.message)
  assert(handler.connect)

  function CMD.open(source, conf)
    assert(not socket, "already listening")
    local address = conf.address or "0.0.0.0"
    local port = assert(conf.port, "conf.port is required")
    maxclient = conf.maxclient or 1024
    nodelay = conf.nodelay
    if conf.maxpacket then
      netpack.max(conf.maxpacket)
    end
    local id, bound_address, bound_port = socketdriver.listen(address, port, conf.backlog)
    socket = id
    conf.address = bound_address or address
    conf.port = bound_port or port
    skynet.error(string.format("Listen on %s:%d", conf.address, conf.port))
    socketdriver.start(socket)
    if handler.open then
      return handler.open(source, conf)
    end
  end

  function CMD.close()
    assert(socket, "not listening")
    socketdriver.close(socket)
  end

  local MSG = {}

  local function dispatch_msg(fd, msg, sz)
    if connection[fd] then
      handler.message(fd, msg, sz)
    else
      skynet.error(string.format("Drop message from fd (%d) : %s", fd, netpack.tostring(msg, sz)))
    end
  end

  MSG.data = dispatch_msg

  -- Several packets arrived together. If handler.message blocks (a call), the
  -- fork pops what is left, so one slow packet does not hold the others up.
  local function dispatch_queue()
    local fd, msg, sz = netpack.pop(queue)
    if fd then
      skynet.fork(dispatch_queue)
      dispatch_msg(fd, msg, sz)
      for next_fd, next_msg, next_sz in netpack.pop, queue do
        dispatch_msg(next_fd, next_msg, next_sz)
      end
    end
  end

  MSG.more = dispatch_queue

  function MSG.open(fd, addr)
    if client_number >= maxclient then
      skynet.error(string.format("gateserver: %d clients already (maxclient), closing fd %d from %s",
        client_number, fd, addr))
      socketdriver.close(fd)
      return
    end
    if nodelay then
      socketdriver.nodelay(fd)
    end
    connection[fd] = true
    client_number = client_number + 1
    handler.connect(fd, addr)
  end

  local function close_fd(fd)
    if connection[fd] ~= nil then
      connection[fd] = nil
      client_number = client_number - 1
    end
  end

  function MSG.close(fd)
    if fd == socket then
      socket = nil
      return
    end
    -- Only connections handler.connect saw (not those refused by maxclient).
    if connection[fd] ~= nil then
      local open = connection[fd]
      if handler.disconnect then
        handler.disconnect(fd)
      end
      -- The peer is gone but the socket stays half-open until closed: release it
      -- (after anything still queued for it), unless closeclient already did.
      if open then socketdriver.close(fd) end
      close_fd(fd)
    end
  end

  function MSG.error(fd, msg)
    if fd == socket then
      skynet.error("gateserver accept error:", msg)
      return
    end
    -- A socket error has closed it already; a packet over the limit has not.
    socketdriver.shutdown(fd)
    if connection[fd] ~= nil then
      if handler.error then
        handler.error(fd, msg)
      end
      close_fd(fd)
    end
  end

  function MSG.warning(fd, size)
    if handler.warning then
      handler.warning(fd, size)
    end
  end

  -- A CONNECT message (the listener or a connection started): nothing to do,
  -- socketdriver.listen already told us the address.
  function MSG.init() end

  skynet.register_protocol {
    name = "socket",
    id = skynet.PTYPE_SOCKET,
    unpack = function(msg, sz)
      return netpack.filter(queue, msg, sz)
    end,
    dispatch = function(_, _, q, type, ...)
      queue = q
      if type then
        MSG[type](...)
      end
    end,
  }

  local function init()
    skynet.dispatch("lua", function(_, address, cmd, ...)
      local f = CMD[cmd]
      if f then
        skynet.ret(skynet.pack(f(address, ...)))
      else
        skynet.ret(skynet.pack(handler.command(cmd, address, ...)))
      end
    end)
  end

  if handler.embed then
    init()
  else
    skynet.start(init)
  end
end

return gateserver
