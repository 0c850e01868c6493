-- http.sockethelper (skynet's): read and write functions over a skynet.socket
-- id that raise `sockethelper.socket_error` when the socket fails, and a
-- connect with a timeout. http.httpd and http.httpc are written on it.
local skynet = require "skynet"
local socket = require "skynet.socket"

local sockethelper = {}

-- The error object raised on a socket failure; tostring() gives the details
-- of the last failure ("[Socket Error] ...") once.
local last_failure
local socket_error = setmetatable({}, {
  __tostring = function()
    local text = "[Socket Error] " .. tostring(last_failure)
    last_failure = nil
    return text
  end,
})
sockethelper.socket_error = socket_error

function sockethelper.error_info(info)
  last_failure = info
end

local function fail(info)
  last_failure = info
  error(socket_error)
end

local function read_or_fail(fd, sz)
  local data = socket.read(fd, sz)
  if not data then fail("read failed " .. fd) end
  return data
end

-- readfunc(fd [, pre]): a function(sz) returning sz bytes (all that is there
-- when sz is nil); `pre` is data already read, handed out first.
function sockethelper.readfunc(fd, pre)
  return function(sz)
    if not pre then return read_or_fail(fd, sz) end
    local have = pre
    if sz == nil or sz == #have then
      pre = nil
      return have
    elseif sz < #have then
      pre = have:sub(sz + 1)
      return have:sub(1, sz)
    end
    pre = nil
    return have .. read_or_fail(fd, sz - #have)
  end
end

sockethelper.readall = socket.readall

function sockethelper.writefunc(fd)
  return function(content)
    if not socket.write(fd, content) then fail("write failed fd = " .. fd) end
  end
end

-- connect(host, port [, timeout]): the socket id; raises socket_error if the
-- connection fails or does not complete within timeout centiseconds (a late
-- connection is closed when it completes).
function sockethelper.connect(host, port, timeout)
  local fd, err
  if not timeout then
    fd, err = socket.open(host, port)
  else
    local waiter = {}
    local gave_up = false
    local done = false
    skynet.fork(function()
      local id, why = socket.open(host, port)
      if gave_up then
        if id then socket.close(id) end
        return
      end
      fd, err, done = id, why, true
      skynet.wakeup(waiter)
    end)
    skynet.sleep(timeout, waiter)
    if not done then
      gave_up = true
      err = "timeout"
    end
  end
  if fd then return fd end
  fail(string.format("connect failed host = %s port = %s timeout = %s err = %s", host, port,
    tostring(timeout), tostring(err)))
end

function sockethelper.close(fd)
  socket.close(fd)
end

function sockethelper.shutdown(fd)
  socket.shutdown(fd)
end

return sockethelper
