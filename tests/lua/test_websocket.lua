-- http.websocket: a server (websocket.accept) and the client
-- (websocket.connect/read/write) in one service. Echo of text, binary, a
-- 70,000-byte message (64-bit length) and a fragmented message; ping/pong
-- both ways; close with code and reason both ways; the protocol errors a raw
-- client provokes: unmasked frame -> 1002, invalid UTF-8 -> 1007, oversized
-- -> 1009; a plain HTTP request -> 400; the upgrade path through http.httpd.
local skynet = require "skynet"
local socket = require "skynet.socket"
local websocket = require "http.websocket"
local httpd = require "http.httpd"
local sockethelper = require "http.sockethelper"
local core = require "tern.httpcore"
local t = require "testlib"

local log = {}  -- server events: "kind arg arg"
local function note(...)
  log[#log + 1] = table.concat({ ... }, " ")
end

local handle = {}
function handle.connect(id) note("connect") end
function handle.handshake(id, header, url) note("handshake", url, header["x-hello"] or "") end
function handle.message(id, msg, op)
  note("message", op, #msg)
  if msg == "ping me" then
    websocket.ping(id, "sp")
  elseif msg == "close me" then
    websocket.close(id, 4001, "server bye")
    return
  end
  websocket.write(id, msg, op)
end
function handle.ping(id, payload) note("ping", payload) end
function handle.pong(id, payload) note("pong", payload) end
function handle.close(id, code, reason) note("close", tostring(code), tostring(reason)) end
function handle.error(id, code, why) note("error", tostring(code)) end

-- Waits until the server logged an event starting with `prefix`.
local function wait_log(prefix)
  for _ = 1, 300 do
    for _, line in ipairs(log) do
      if line:sub(1, #prefix) == prefix then return line end
    end
    skynet.sleep(1)
  end
  error("the server never logged " .. prefix .. "; log: " .. table.concat(log, "; "))
end

-- A raw client: the handshake by hand, then frames built with tern.httpcore.
local function raw_client(port)
  local c = assert(socket.open("127.0.0.1", port))
  local key = core.ws_key()
  socket.write(c, "GET /raw HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" ..
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " .. key .. "\r\n\r\n")
  local head = {}
  while true do
    local line = assert(socket.readline(c, "\r\n"))
    if line == "" then break end
    head[#head + 1] = line
  end
  t.eq(head[1], "HTTP/1.1 101 Switching Protocols", "raw handshake status")
  local accept = core.ws_accept(key)
  local found = false
  for _, line in ipairs(head) do
    if line == "Sec-WebSocket-Accept: " .. accept then found = true end
  end
  t.check(found, "raw handshake accept key")
  return c, core.ws_decoder("client")
end

-- The next frame event a raw client receives.
local function raw_next(c, dec)
  while true do
    local kind, a, b = dec:next()
    if kind then return kind, a, b end
    local data = socket.read(c)
    if not data then return nil end
    dec:feed(data)
  end
end

t.run("test_websocket", function()
  local lid, _, port = socket.listen("127.0.0.1", 0)
  socket.start(lid, function(id, addr)
    skynet.fork(function()
      local ok, err = websocket.accept(id, handle, "ws", addr)
      if not ok then note("accept failed", err) end
    end)
  end)
  -- a server with a small size limit
  local small_id, _, small_port = socket.listen("127.0.0.1", 0)
  socket.start(small_id, function(id, addr)
    skynet.fork(websocket.accept, id, handle, "ws", addr, { max_message = 1000 })
  end)

  -- echo through the client API
  local ws = websocket.connect("ws://127.0.0.1:" .. port .. "/chat?room=1", { ["X-Hello"] = "hi" })
  t.eq(wait_log("handshake"), "handshake /chat?room=1 hi", "handshake: url and header")
  t.check(not websocket.is_close(ws), "open")
  t.eq(websocket.addrinfo(ws), "127.0.0.1:" .. port, "addrinfo")
  websocket.write(ws, "héllo")
  t.eq(websocket.read(ws), "héllo", "text echo")
  websocket.write(ws, "\0\1\2\255", "binary")
  t.eq(websocket.read(ws), "\0\1\2\255", "binary echo")
  local big = string.rep("0123456789", 7000)
  websocket.write(ws, big, "binary")
  t.eq(websocket.read(ws), big, "70,000 bytes echo")
  t.check(wait_log("message binary 70000"), "server saw binary 70000")

  -- ping from the client: the server answers (the client's read skips the
  -- pong) and reports it; ping from the server: the client's read answers
  websocket.ping(ws, "cp")
  t.eq(wait_log("ping"), "ping cp", "server handle.ping")
  websocket.write(ws, "ping me")
  t.eq(websocket.read(ws), "ping me", "echo after the server's ping")
  t.eq(wait_log("pong"), "pong sp", "server handle.pong: the client answered")

  -- the client closes with a code and a reason
  websocket.close(ws, 4000, "bye")
  t.check(websocket.is_close(ws), "closed after close")
  t.eq(wait_log("close"), "close 4000 bye", "server handle.close(code, reason)")

  -- the server closes with a code and a reason
  log = {}
  ws = websocket.connect("ws://127.0.0.1:" .. port)
  websocket.write(ws, "close me")
  local msg, reason, code = websocket.read(ws)
  t.eq(msg, false, "read after the server's close")
  t.eq(reason, "server bye", "close reason")
  t.eq(code, 4001, "close code")
  t.check(websocket.is_close(ws), "client closed")
  t.eq(wait_log("close"), "close nil nil", "server handle.close after websocket.close")

  -- a fragmented text message, with a ping between the fragments
  log = {}
  local c, dec = raw_client(port)
  socket.write(c, core.ws_frame("text", "frag", false, true))
  socket.write(c, core.ws_frame("ping", "mid", true, 0x01020304))
  socket.write(c, core.ws_frame("continuation", "men", false, true) .. core.ws_frame("continuation", "ted", true, true))
  local kind, a = raw_next(c, dec)
  t.eq(kind .. " " .. a, "pong mid", "pong between fragments")
  kind, a = raw_next(c, dec)
  t.eq(kind .. " " .. a, "text fragmented", "fragmented message reassembled and echoed")
  -- an unmasked frame from a client: close 1002
  socket.write(c, core.ws_frame("text", "no mask"))
  local b
  kind, a, b = raw_next(c, dec)
  t.eq(kind, "close", "unmasked: a close frame")
  t.eq(a, 1002, "unmasked: 1002")
  t.eq(raw_next(c, dec), nil, "unmasked: then the socket closes")
  t.eq(wait_log("error"), "error 1002", "server handle.error(1002)")
  socket.close(c)

  -- invalid UTF-8 in a text message: 1007
  c, dec = raw_client(port)
  socket.write(c, core.ws_frame("text", "bad \xC3\x28 utf8", true, true))
  kind, a = raw_next(c, dec)
  t.eq(kind .. " " .. tostring(a), "close 1007", "invalid UTF-8: 1007")
  socket.close(c)

  -- over the size limit: 1009 (fragments adding up past it, too)
  c, dec = raw_client(small_port)
  socket.write(c, core.ws_frame("binary", string.rep("x", 1000), true, true))
  kind, a = raw_next(c, dec)
  t.eq(kind .. " " .. #a, "binary 1000", "at the limit: echoed")
  socket.write(c, core.ws_frame("binary", string.rep("x", 600), false, true))
  socket.write(c, core.ws_frame("continuation", string.rep("x", 600), true, true))
  kind, a = raw_next(c, dec)
  t.eq(kind .. " " .. tostring(a), "close 1009", "over the limit: 1009")
  socket.close(c)

  -- a plain HTTP request is refused with 400
  c = assert(socket.open("127.0.0.1", port))
  socket.write(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
  t.eq(socket.readline(c, "\r\n"), "HTTP/1.1 400 Bad Request", "no upgrade: 400")
  socket.close(c)

  -- the upgrade path: http.httpd reads the request, websocket.accept takes over
  local up_id, _, up_port = socket.listen("127.0.0.1", 0)
  socket.start(up_id, function(id, addr)
    skynet.fork(function()
      socket.start(id)
      local code, url, method, header = httpd.read_request(sockethelper.readfunc(id), 8192)
      if code == 200 and header.upgrade == "websocket" then
        websocket.accept(id, handle, "ws", addr, { upgrade = { header = header, method = method, url = url } })
      else
        socket.close(id)
      end
    end)
  end)
  log = {}
  ws = websocket.connect("ws://127.0.0.1:" .. up_port .. "/up", { ["X-Real-IP"] = "10.1.2.3" })
  t.eq(wait_log("handshake"), "handshake /up ", "upgrade: handshake")
  websocket.write(ws, "through httpd")
  t.eq(websocket.read(ws), "through httpd", "upgrade: echo")
  websocket.close(ws)
  socket.close(up_id)

  local ok, err = pcall(websocket.connect, "wss://127.0.0.1:" .. port)
  t.check(not ok and tostring(err):find("not supported"), "wss refused")
  socket.close(small_id)
  socket.close(lid)
end)
