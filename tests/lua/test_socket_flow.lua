-- Flow control: pause/resume (reading stops while paused, resumes on read),
-- limit (a reader past its buffer limit is closed), the warning callback (a
-- write queue past 1 MiB toward a paused reader; 0 once drained), lwrite.
local skynet = require "skynet"
local socket = require "skynet.socket"
local t = require "testlib"

local function row_of(id)
  for _, row in ipairs(socket.netstat()) do
    if row.id == id then return row end
  end
end

-- A connected pair in this service: client id, server-side id.
local function pair()
  local server_side
  local lid, _, port = socket.listen("127.0.0.1", 0)
  socket.start(lid, function(id)
    socket.start(id)
    server_side = id
  end)
  local c = assert(socket.open("127.0.0.1", port))
  while not server_side do skynet.sleep(1) end
  socket.close(lid)
  return c, server_side
end

t.run("test_socket_flow", function()
  -- pause / resume
  local c, s = pair()
  socket.pause(s)
  for _ = 1, 500 do  -- the socket thread has taken the pause
    if row_of(s).reading == false then break end
    skynet.sleep(1)
  end
  socket.write(c, "while paused")
  skynet.sleep(10)
  local row = row_of(s)
  t.eq(row.reading, false, "paused socket is not reading")
  t.eq(row.read, 0, "nothing read while paused")
  t.eq(socket.read(s, 12), "while paused", "read resumes a paused socket")
  t.eq(row_of(s).reading, true, "reading again")
  socket.close(c)
  socket.close(s)

  -- limit: more than 1000 bytes unread (nobody waits for a size) closes it
  c, s = pair()
  socket.limit(s, 1000)
  socket.write(c, string.rep("x", 5000))
  local ok, rest = socket.readline(s)  -- no newline ever comes
  t.eq(ok, false, "readline past the limit")
  t.check(type(rest) == "string" and #rest > 1000, "the buffered bytes come back")
  t.eq(socket.read(c), false, "the peer sees the close")
  socket.close(c)
  socket.close(s)

  -- warning: write toward a paused reader until the queue passes 1 MiB
  c, s = pair()
  socket.pause(s)
  local warnings = {}
  socket.warning(c, function(id, kb) warnings[#warnings + 1] = kb end)
  local chunk = string.rep("w", 1024 * 1024)
  local sent = 0
  while #warnings == 0 and sent < 64 do
    t.check(socket.lwrite(c, chunk), "lwrite")
    sent = sent + 1
    skynet.sleep(1)
  end
  t.check(#warnings > 0 and warnings[1] >= 1024, "warning fired: " .. tostring(warnings[1]) .. " after " .. sent .. " MiB")
  -- drain: the reader resumes and takes everything; the last warning says 0
  local total = sent * #chunk
  local got = 0
  while got < total do
    local data = assert(socket.read(s))
    got = got + #data
  end
  t.eq(got, total, "every byte arrived")
  for _ = 1, 100 do
    if warnings[#warnings] == 0 then break end
    skynet.sleep(1)
  end
  t.eq(warnings[#warnings], 0, "drained warning")
  socket.close(c)
  socket.close(s)
end)
