-- cslave: a node's slave in harbor mode (skynet's cslave, our own code).
-- bootstrap starts it (named .cslave) when the config has a harbor id and a
-- master. It launches the C++ `harbor` service (which carries the messages),
-- makes the links to the other slaves and hands them over to it, and keeps
-- this node's copy of the global names. See docs/harbor.md.
--
--   * start-up: listen on `address`, connect to `master`, say "H id address";
--     the master answers with the slaves that are up ("W id ..."); they
--     connect to us, and we wait (up to 5 s) until they have;
--   * later: the master says "C id address" for each newcomer (we connect to
--     it), "N name handle" for names, "D id" for slaves that left;
--   * our listener stays open: a connection must send a harbor hello from an
--     id the master announced and that is not linked yet, within 5 s, or it is
--     closed and logged.
local skynet = require "skynet"
local socket = require "skynet.socket"
local socketdriver = require "skynet.socketdriver"
local line = require "skynet.harbor_line"
require "skynet.manager"

local HELLO_TIMEOUT = 500   -- centiseconds
local START_WAIT = 500      -- centiseconds to wait for the slaves already up
local HELLO_VERSION = 1

local harbor_id, harbor_service, master_fd
local master_up = false
local handshake_done = false
local slaves = {}          -- id -> "expected" | "linked" | "down"
local names = {}           -- global name -> handle
local name_waiters = {}    -- name -> { response, ... }
local link_waiters = {}    -- id -> { response, ... }  (LINK: until down)
local connect_waiters = {} -- id -> { response, ... }  (CONNECT: until linked or down)
local master_waiters = {}  -- LINKMASTER: until the master link drops

skynet.register_protocol {
  name = "harbor",
  id = skynet.PTYPE_HARBOR,
  pack = function(s) return s end,
  unpack = skynet.tostring,
}
skynet.register_protocol {
  name = "text",
  id = skynet.PTYPE_TEXT,
  pack = function(s) return s end,
  unpack = skynet.tostring,
}

local function tell_harbor(...)
  skynet.send(harbor_service, "harbor", table.concat({ ... }, " "))
end

local function wake(list, ...)
  if list then
    for _, resp in ipairs(list) do resp(true, ...) end
  end
end

local function set_state(id, st)
  slaves[id] = st
  if st == "down" then
    local l, c = link_waiters[id], connect_waiters[id]
    link_waiters[id], connect_waiters[id] = nil, nil
    wake(l)
    wake(c, false)
  elseif st == "linked" then
    local c = connect_waiters[id]
    connect_waiters[id] = nil
    wake(c, true)
  end
end

local function learn_name(name, handle)
  names[name] = handle
  tell_harbor("N", name, handle)
  local waiting = name_waiters[name]
  name_waiters[name] = nil
  wake(waiting, handle)
end

local function hello()
  return string.pack(">I4c4BB", 6, "THRB", HELLO_VERSION, harbor_id)
end

-- A link from a slave that joined before us (or a stranger).
local function accept_link(fd, addr)
  socket.start(fd)
  socket.limit(fd, 4096)
  local done, late = false, false
  skynet.timeout(HELLO_TIMEOUT, function()
    if not done then late = true socket.close(fd) end
  end)
  local data = socket.read(fd, 10)
  while not handshake_done and not late do skynet.sleep(1) end  -- W tells who may come
  done = true
  local why, id
  if late then
    why = "no hello within " .. HELLO_TIMEOUT // 100 .. " s"
  elseif not data then
    why = "closed before its hello"
  else
    local len, magic, version
    len, magic, version, id = string.unpack(">I4c4BB", data)
    if len ~= 6 or magic ~= "THRB" then
      why = "bad hello (not a tern harbor link)"
    elseif version ~= HELLO_VERSION then
      why = string.format("hello of wire version %d, this node speaks %d", version, HELLO_VERSION)
    elseif slaves[id] ~= "expected" then
      why = string.format("hello from harbor %d, which is %s", id, slaves[id] or "unknown")
    end
  end
  if why then
    skynet.error(string.format("harbor link from %s refused: %s", addr, why))
    socket.close(fd)
    return
  end
  socket.abandon(fd)
  socketdriver.nodelay(fd)
  tell_harbor("A", fd, id)
  set_state(id, "linked")
end

-- A link to a slave that joined after us.
local function connect_link(id, addr)
  local fd, err = socket.open(addr)
  if not fd then
    skynet.error(string.format("can't link harbor %d at %s: %s", id, addr, tostring(err)))
    tell_harbor("D", id)
    set_state(id, "down")
    return
  end
  socketdriver.nodelay(fd)
  socket.abandon(fd)
  tell_harbor("S", fd, id)
  set_state(id, "linked")
end

local function expect(id)
  if slaves[id] == nil then
    slaves[id] = "expected"
    tell_harbor("E", id)  -- before any name of that harbor reaches the harbor service
  end
end

local function master_loop()
  local why
  while true do
    local w, err = line.read(master_fd)
    if not w then why = err break end
    local t = w[1]
    local id = line.harbor_id(w[2])
    if t == "C" and #w == 3 and id and id ~= harbor_id and line.address(w[3]) then
      expect(id)
      skynet.fork(connect_link, id, w[3])
    elseif t == "N" and #w == 3 and line.name(w[2]) and line.handle(w[3]) then
      learn_name(w[2], line.handle(w[3]))
    elseif t == "D" and #w == 2 and id and id ~= harbor_id then
      if slaves[id] ~= "down" then
        tell_harbor("D", id)
        set_state(id, "down")
      end
    else
      why = "bad message from the master \"" .. table.concat(w, " "):sub(1, 64) .. "\""
      break
    end
  end
  skynet.error("master link lost: " .. why)
  master_up = false
  socket.close(master_fd)
  local waiting = master_waiters
  master_waiters = {}
  wake(waiting)
end

-- Requests from services (skynet.harbor).
local CMD = {}

function CMD.REGISTER(name, handle)
  if not line.name(name) or math.type(handle) ~= "integer" then
    error("bad global name registration: " .. tostring(name))
  end
  learn_name(name, handle)
  if master_up then line.send(master_fd, "R", name, handle) end
end

function CMD.QUERYNAME(name)
  if type(name) == "string" and name:sub(1, 1) == "." then
    return skynet.ret(skynet.pack(skynet.localname(name)))
  end
  if names[name] then return skynet.ret(skynet.pack(names[name])) end
  if not line.name(name) then error("invalid global name: " .. tostring(name)) end
  local waiting = name_waiters[name]
  if not waiting then
    waiting = {}
    name_waiters[name] = waiting
    if master_up then line.send(master_fd, "Q", name) end
  end
  waiting[#waiting + 1] = skynet.response()
end

function CMD.LINK(id)
  local st = slaves[id]
  if st == "linked" or st == "expected" then
    link_waiters[id] = link_waiters[id] or {}
    table.insert(link_waiters[id], skynet.response())
  else
    skynet.ret()
  end
end

function CMD.CONNECT(id)
  local st = slaves[id]
  if st == "linked" or id == harbor_id then return skynet.retpack(true) end
  if st == "down" then return skynet.retpack(false) end
  connect_waiters[id] = connect_waiters[id] or {}
  table.insert(connect_waiters[id], skynet.response())
end

function CMD.LINKMASTER()
  if not master_up then return skynet.ret() end
  table.insert(master_waiters, skynet.response())
end

-- Reports from the harbor service (and the core's REG of a global name).
local function on_text(text)
  local w = {}
  for x in text:gmatch("[^ ]+") do w[#w + 1] = x end
  local t = w[1]
  if t == "Q" and line.name(w[2]) then
    if names[w[2]] then
      tell_harbor("N", w[2], names[w[2]])
    elseif master_up then
      line.send(master_fd, "Q", w[2])
    end
  elseif t == "D" and line.harbor_id(w[2]) then
    set_state(line.harbor_id(w[2]), "down")
  elseif t == "R" and line.name(w[2]) and line.handle(w[3]) then
    CMD.REGISTER(w[2], line.handle(w[3]))
  else
    skynet.error("cslave: unknown report from the harbor service: " .. text)
  end
end

local function connect_master(addr)
  -- The master may be starting at the same time: retry for a while.
  local err
  for _ = 1, 50 do
    local fd
    fd, err = socket.open(addr)
    if fd then return fd end
    skynet.sleep(10)
  end
  error(string.format("can't connect to the master at %s: %s", addr, tostring(err)))
end

skynet.start(function()
  harbor_id = assert(math.tointeger(tonumber(skynet.getenv "harbor")), "cslave: no harbor id")
  local address = line.normalize(skynet.getenv "address" or "127.0.0.1:2526")
  local master = line.normalize(skynet.getenv "master")
  if master == nil then master = line.connectable(line.normalize(skynet.getenv "standalone")) end

  skynet.dispatch("lua", function(_, _, cmd, ...)
    local f = CMD[cmd]
    if not f then error("cslave: unknown command " .. tostring(cmd)) end
    f(...)
  end)
  skynet.dispatch("text", function(_, _, text) on_text(text) end)

  harbor_service = assert(skynet.launch("harbor", harbor_id, skynet.self()),
    "cslave: can't launch the harbor service")

  local listen_fd = socket.listen(address)
  socket.start(listen_fd, function(fd, addr)
    skynet.fork(accept_link, fd, addr)
  end)

  master_fd = connect_master(master)
  socket.limit(master_fd, line.MAX_UNREAD)
  line.send(master_fd, "H", harbor_id, address)
  local w, err = line.read(master_fd)
  if not w then error("master handshake failed: " .. err) end
  if w[1] == "E" then error("the master refused harbor " .. harbor_id .. ": " .. table.concat(w, " ", 2)) end
  if w[1] ~= "W" then error("master handshake failed: unexpected \"" .. w[1] .. "\"") end
  master_up = true
  local waiting = {}
  for i = 2, #w do
    local id = line.harbor_id(w[i])
    if not id then error("master handshake failed: bad harbor id " .. w[i]) end
    expect(id)
    waiting[#waiting + 1] = id
  end
  handshake_done = true
  skynet.error(string.format("harbor %d: master %s, listening on %s, %d harbor(s) up", harbor_id,
    master, address, #waiting))
  skynet.fork(master_loop)

  -- Like skynet, start-up waits for the slaves already up to link to us.
  for _ = 1, START_WAIT do
    local pending = false
    for _, id in ipairs(waiting) do
      if slaves[id] == "expected" then pending = true end
    end
    if not pending then break end
    skynet.sleep(1)
  end
end)
