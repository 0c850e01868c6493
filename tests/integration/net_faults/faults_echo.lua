-- A skynet.socket service for the fault tests. Listens on 127.0.0.1:<port>
-- (backlog 1024); the first line of each connection picks what it does:
--   ECHO          echo every byte back until the client closes
--   HALF          socket.readall (until the client's FIN), then answer
--                 "<n>\n" .. the bytes, then close
--   BULK <bytes>  write <bytes> (a multiple of 64 KiB) at once, in 64 KiB chunks:
--                 chunk i = 4-byte big-endian i .. bytes 4..65535 of the pattern
--                 (byte k = (k * 31 + 7) % 256); log every socket.warning; close
--   FLOOD         write 64 KiB chunks (two per 10 ms) to a client that does not
--                 read, until a warning says 4 MiB wait; then hold until it goes
--   CONNECT <port> socket.open("127.0.0.1", port): log and answer the result
local skynet = require "skynet"
local socket = require "skynet.socket"

local port = assert(tonumber(...), "faults_echo: need a port")
local CHUNK = 65536

local pattern_tail  -- bytes 4..65535 of the BULK pattern
local function bulk_tail()
  if not pattern_tail then
    local bytes = {}
    for k = 4, CHUNK - 1 do bytes[#bytes + 1] = string.char((k * 31 + 7) % 256) end
    pattern_tail = table.concat(bytes)
  end
  return pattern_tail
end

local modes = {}

function modes.ECHO(fd)
  while true do
    local data = socket.read(fd)
    if not data then break end
    socket.write(fd, data)
  end
end

function modes.HALF(fd)
  local data = socket.readall(fd) or ""
  local ok = socket.write(fd, string.format("%d\n", #data) .. data)
  skynet.error(string.format("half: fd %d read %d bytes until the client's FIN; answer written: %s",
    fd, #data, tostring(ok)))
end

function modes.BULK(fd, arg)
  local total = assert(tonumber(arg), "BULK needs a size")
  local peak = 0
  socket.warning(fd, function(id, size)
    if size > peak then peak = size end
    skynet.error(string.format("bulk: warning fd %d: %d KiB wait to be written", id, size))
  end)
  local tail = bulk_tail()
  local t0 = skynet.now()
  for i = 0, total // CHUNK - 1 do
    socket.write(fd, string.pack(">I4", i) .. tail)
  end
  skynet.error(string.format("bulk: fd %d: %d bytes queued", fd, total))
  socket.close(fd)  -- returns once everything is written
  skynet.error(string.format("bulk: fd %d: %d bytes written in %.2f s, warning peak %d KiB",
    fd, total, (skynet.now() - t0) / 100, peak))
end

function modes.FLOOD(fd)
  local peak = 0
  socket.warning(fd, function(id, size)
    if size > peak then peak = size end
    skynet.error(string.format("flood: warning fd %d: %d KiB wait to be written", id, size))
  end)
  local chunk = string.rep("f", CHUNK)
  local written = 0
  while peak < 4096 and not socket.disconnected(fd) do
    socket.write(fd, chunk)
    socket.write(fd, chunk)
    written = written + 2 * CHUNK
    skynet.sleep(1)
  end
  skynet.error(string.format("flood: fd %d stopped writing after %d KiB (warning peak %d KiB)",
    fd, written // 1024, peak))
  while socket.read(fd) do end  -- until the client goes
end

function modes.CONNECT(fd, arg)
  local id, err = socket.open("127.0.0.1", tonumber(arg))
  if id then
    socket.close(id)
    skynet.error("connect: socket.open to 127.0.0.1:" .. arg .. " unexpectedly succeeded")
    socket.write(fd, "connected\n")
  else
    skynet.error(string.format("connect: socket.open returned %s, %s", tostring(id), tostring(err)))
    socket.write(fd, string.format("%s %s\n", tostring(id), tostring(err)))
  end
end

local function serve(fd, addr)
  socket.start(fd)
  local line = socket.readline(fd)
  if line then
    local cmd, arg = line:match("^(%u+)%s*(.*)$")
    local f = modes[cmd]
    if f then
      local ok, err = pcall(f, fd, arg)
      if not ok then skynet.error(string.format("faults_echo: %s from %s failed: %s", cmd, addr, err)) end
    else
      skynet.error(string.format("faults_echo: unknown command %q from %s", line, addr))
    end
  end
  socket.close(fd)
end

skynet.start(function()
  local id, _, bound = socket.listen("127.0.0.1", port, 1024)
  skynet.error(string.format("faults_echo: listening on 127.0.0.1:%d", bound))
  socket.start(id, function(fd, addr)
    skynet.fork(serve, fd, addr)
  end)
end)
