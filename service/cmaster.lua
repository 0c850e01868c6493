-- cmaster: the master of harbor mode (skynet's cmaster, our own code). It runs
-- on the node whose config has `standalone`, listens there, and keeps:
--   * every slave that ever joined: harbor id -> its address (a slave that
--     leaves stays known, as down: its id is not reused),
--   * every global name: name -> handle.
-- Slaves connect and speak the line protocol of docs/harbor.md. A slave's
-- handshake is answered with the ids of the slaves up now, which are told
-- to connect to the newcomer; names are broadcast when registered and
-- answered when asked for; a slave whose connection drops is announced down.
-- Anything else on the port (garbage, an oversized line, a bad handshake)
-- closes that connection and is logged.
local skynet = require "skynet"
local socket = require "skynet.socket"
local line = require "skynet.harbor_line"

local HANDSHAKE_TIMEOUT = 500  -- centiseconds

local slaves = {}  -- harbor id -> { fd = socket id or false when down, addr = "ip:port" }
local names = {}   -- global name -> handle

local function broadcast(...)
  for _, s in pairs(slaves) do
    if s.fd then line.send(s.fd, ...) end
  end
end

local function handshake(fd)
  local w, err = line.read(fd)
  if not w then return nil, err end
  if w[1] ~= "H" or #w ~= 3 then return nil, "expected \"H id address\" first" end
  local id, addr = line.harbor_id(w[2]), line.address(w[3])
  if not id then return nil, "bad harbor id " .. w[2] end
  if not addr then return nil, "bad address " .. w[3] end
  if slaves[id] then
    local why = string.format("harbor %d is taken (%s, %s)", id, slaves[id].addr,
      slaves[id].fd and "up" or "down")
    line.send(fd, "E", why)
    return nil, why
  end
  local up = {}
  for other, s in pairs(slaves) do
    if s.fd then
      up[#up + 1] = other
      line.send(s.fd, "C", id, addr)
    end
  end
  table.sort(up)
  line.send(fd, "W", table.unpack(up))
  slaves[id] = { fd = fd, addr = addr }
  return id
end

local function serve(fd, id)
  local why
  while true do
    local w, err = line.read(fd)
    if not w then why = err break end
    local t = w[1]
    if t == "R" and #w == 3 and line.name(w[2]) and line.handle(w[3]) then
      local h = line.handle(w[3])
      names[w[2]] = h  -- the last registration wins, on every node
      broadcast("N", w[2], h)
    elseif t == "Q" and #w == 2 and line.name(w[2]) then
      local h = names[w[2]]
      if h then line.send(fd, "N", w[2], h) end  -- else the registration will be broadcast
    else
      why = "bad message \"" .. table.concat(w, " "):sub(1, 64) .. "\""
      break
    end
  end
  skynet.error(string.format("master: harbor %d is down (%s)", id, why))
  slaves[id].fd = false
  socket.close(fd)
  broadcast("D", id)
end

local function accept(fd, addr)
  socket.start(fd)
  socket.limit(fd, line.MAX_UNREAD)
  local done, late = false, false
  skynet.timeout(HANDSHAKE_TIMEOUT, function()
    if not done then late = true socket.close(fd) end
  end)
  local id, why = handshake(fd)
  done = true
  if late then why = "no handshake within " .. HANDSHAKE_TIMEOUT // 100 .. " s" end
  if not id then
    skynet.error(string.format("master: connection from %s refused: %s", addr, why))
    socket.close(fd)
    return
  end
  skynet.error(string.format("master: harbor %d joined from %s", id, slaves[id].addr))
  serve(fd, id)
end

skynet.start(function()
  local addr = line.normalize(skynet.getenv "standalone")
  if addr == nil or addr == "true" then addr = line.normalize(skynet.getenv "master") end
  assert(addr and addr:match(":%d+$"), "cmaster: standalone must be an address (host:port)")
  local fd = socket.listen(addr)
  skynet.error("master listens on " .. addr)
  socket.start(fd, function(id, peer)
    skynet.fork(accept, id, peer)
  end)
end)
