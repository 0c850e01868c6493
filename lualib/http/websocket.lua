-- http.websocket (skynet's API): RFC 6455 WebSocket server and client for Lua
-- services. Frames are decoded and built by tern's HTTP core
-- (tern.httpcore.ws_*), which enforces the protocol: a client frame without a
-- mask closes the connection with 1002, invalid UTF-8 in a text message with
-- 1007, a frame or message over the size limit with 1009.
--
-- Server:
--   websocket.accept(socket_id, handle, protocol, addr, options) -> true | false, err
--     runs the connection to its end (call it in the coroutine that owns the
--     socket). handle: connect(id), handshake(id, header, url),
--     message(id, data, "text"|"binary"), ping(id, payload), pong(id, payload),
--     close(id, code, reason), error(id [, code, why]) (tern adds the close code
--     it sent after a protocol error), warning(id, kib). protocol: "ws" (wss is
--     not supported). options.upgrade = {header=, method=, url=}: the opening
--     handshake was already read by http.httpd on a started socket.
--     options.max_frame / options.max_message (tern): size limits, 256 KiB by
--     default as skynet's MAX_FRAME_SIZE.
-- Client:
--   websocket.connect(url, header, timeout) -> id     url "ws://host[:port]/path"
--   websocket.read(id) -> data | false, reason, code    answers pings by itself
-- Both:
--   websocket.write(id, data [, "text"|"binary" [, masking_key]]) -> ok
--   websocket.ping(id [, payload]), websocket.close(id [, code [, reason]])
--   websocket.addrinfo(id), websocket.real_ip(id), websocket.is_close(id)
local skynet = require "skynet"
local socket = require "skynet.socket"
local sockethelper = require "http.sockethelper"
local httpd = require "http.httpd"
local core = require "tern.httpcore"

local format, concat = string.format, table.concat
local type, pairs, assert, error = type, pairs, assert, error

local M = {}

local MAX_SIZE = 256 * 1024      -- skynet's MAX_FRAME_SIZE, for what a server receives
local CLIENT_MAX_SIZE = 16 << 20 -- what a client accepts from a server
local HANDSHAKE_LIMIT = 8192     -- request line + headers of the opening handshake

local ws_pool = {}  -- socket id -> connection

local function is_closed(id)
  return not ws_pool[id]
end

local function close_socket(ws)
  if ws_pool[ws.id] == ws then ws_pool[ws.id] = nil end
  socket.close(ws.id)
end

local function new_ws(id, mode, handle, options)
  local max_frame = options and options.max_frame or (mode == "server" and MAX_SIZE or CLIENT_MAX_SIZE)
  local max_message = options and options.max_message or max_frame
  local ws = {
    id = id,
    mode = mode,
    handle = handle,
    decoder = core.ws_decoder(mode, max_frame, max_message),
  }
  ws_pool[id] = ws
  return ws
end

local function try_handle(ws, name, ...)
  local f = ws.handle and ws.handle[name]
  if f then f(ws.id, ...) end
end

-- One frame out; a client masks it (RFC 6455 5.3), with masking_key if given.
local function send(ws, op, payload, masking_key)
  local mask = ws.mode == "client" and (masking_key or true) or nil
  return socket.write(ws.id, core.ws_frame(op, payload, true, mask))
end

local function send_close(ws, code, reason)
  if ws.close_sent then return end
  ws.close_sent = true
  send(ws, "close", core.ws_close_payload(code, reason))
end

local function join(v)
  if type(v) == "table" then return concat(v, ", ") end
  return v
end

-- The decoder's next event, reading the socket when none is ready:
-- kind, a, b as dec:next(); or "error", code, why; or nil when the socket
-- closed first.
local function next_event(ws)
  local dec = ws.decoder
  while true do
    local kind, a, b = dec:next()
    if kind then return kind, a, b end
    local code, why = dec:error()
    if code then return "error", code, why end
    local data = socket.read(ws.id)
    if not data then return nil end
    dec:feed(data)
  end
end

-- A close frame's code: nil when it carried none (1005).
local function close_code(code)
  if code == 1005 then return nil end
  return code
end

-- Server ------------------------------------------------------------------------

-- Reads the opening handshake: header, method, url; or nil and an error status.
local function read_handshake(ws)
  local parser = core.request_parser()
  parser:limits(HANDSHAKE_LIMIT, 0)
  while true do
    local method, url, header, _, version = parser:pop()
    if method then
      ws.rest = parser:rest()
      if version ~= "1.1" and version ~= "1.2" then return nil, 505 end
      return header, method, url
    end
    local status = parser:error()
    if status then return nil, status end
    local data = socket.read(ws.id)
    if not data then error(sockethelper.socket_error) end
    parser:feed(data)
  end
end

local function handshake(ws, upgrade)
  local header, method, url
  if upgrade then
    header, method, url = upgrade.header, upgrade.method, upgrade.url
  else
    header, method, url = read_handshake(ws)
    if not header then return method end
  end
  if method ~= "GET" then return 400, "need GET method" end
  if not header.host then return 400, "host Required" end
  local key = header["sec-websocket-key"]
  if type(key) == "table" then return 400, "Sec-WebSocket-Key invalid" end
  local status, head, why = core.ws_handshake(join(header.upgrade), join(header.connection),
    join(header["sec-websocket-version"]), key)
  if status ~= 101 then return status, why end
  -- skynet's rule: a client that asks for subprotocols must offer "chat".
  local protocols = join(header["sec-websocket-protocol"])
  if protocols then
    local chat = false
    for p in protocols:gmatch("[^%s,]+") do
      if p == "chat" then chat = true end
    end
    if not chat then return 400, "Sec-WebSocket-Protocol need include chat" end
    head = head .. "Sec-WebSocket-Protocol: chat\r\n"
  end
  if not socket.write(ws.id, head .. "\r\n") then error(sockethelper.socket_error) end
  ws.header = header
  ws.url = url
  ws.real_ip = join(header["x-real-ip"])
  return nil, header, url
end

local function serve(ws, upgrade)
  try_handle(ws, "connect")
  local code, header, url = handshake(ws, upgrade)
  if code then
    local extra = code == 426 and { ["Sec-WebSocket-Version"] = "13" } or nil
    httpd.write_response(sockethelper.writefunc(ws.id), code, header or "", extra)
    try_handle(ws, "close")
    return
  end
  try_handle(ws, "handshake", header, url)
  if ws.rest and ws.rest ~= "" then ws.decoder:feed(ws.rest) end
  ws.rest = nil
  while true do
    local kind, a, b = next_event(ws)
    if kind == "text" or kind == "binary" then
      try_handle(ws, "message", a, kind)
    elseif kind == "ping" then
      send(ws, "pong", a)
      try_handle(ws, "ping", a)
    elseif kind == "pong" then
      try_handle(ws, "pong", a)
    elseif kind == "close" then
      send_close(ws, a, "")  -- echo the code (none if it had none)
      try_handle(ws, "close", close_code(a), b)
      return
    elseif kind == "error" then
      send_close(ws, a, b)
      try_handle(ws, "error", a, b)
      return
    else  -- the socket closed: by websocket.close (ours) or by the peer
      if is_closed(ws.id) then
        try_handle(ws, "close")
      else
        try_handle(ws, "error")
      end
      return
    end
    if is_closed(ws.id) then  -- a handler called websocket.close
      try_handle(ws, "close")
      return
    end
  end
end

function M.accept(socket_id, handle, protocol, addr, options)
  protocol = protocol or "ws"
  if protocol ~= "ws" then return false, "websocket: wss is not supported by tern" end
  local upgrade = options and options.upgrade
  if not upgrade then socket.start(socket_id) end
  local ws = new_ws(socket_id, "server", handle, options)
  ws.addr = addr
  if handle and handle.warning then
    socket.warning(socket_id, function(id, kib) handle.warning(id, kib) end)
  end
  local ok, err = xpcall(serve, debug.traceback, ws, upgrade)
  local closed = is_closed(socket_id)
  if not closed then close_socket(ws) end
  if not ok then
    if err == sockethelper.socket_error then
      try_handle(ws, closed and "close" or "error")
    else
      return false, err
    end
  end
  return true
end

-- Client ------------------------------------------------------------------------

local function client_handshake(ws, host, uri, header)
  local key = core.ws_key()
  local out = {
    format("GET %s HTTP/1.1\r\n", uri),
    format("Host: %s\r\n", host),
    "Upgrade: websocket\r\n",
    "Connection: Upgrade\r\n",
    "Sec-WebSocket-Version: 13\r\n",
    format("Sec-WebSocket-Key: %s\r\n", key),
  }
  local reserved = { host = true, upgrade = true, connection = true,
    ["sec-websocket-version"] = true, ["sec-websocket-key"] = true }
  if header then
    for k, v in pairs(header) do
      assert(not reserved[k:lower()], k)
      out[#out + 1] = format("%s: %s\r\n", k, v)
    end
  end
  out[#out + 1] = "\r\n"
  if not socket.write(ws.id, concat(out)) then error(sockethelper.socket_error) end

  local parser = core.response_parser(HANDSHAKE_LIMIT)
  local code, rheader
  while not parser:done() do
    local data, rest = socket.read(ws.id)
    local ok, why
    if data then
      ok, why = parser:feed(data)
    else
      if rest and rest ~= "" then parser:feed(rest) end
      ok, why = parser:finish()
    end
    if not ok then error("websocket handshake: " .. why) end
  end
  code, rheader = parser:head()
  if code ~= 101 then
    error(format("websocket handshake error: code[%s] info:%s", code, parser:body()))
  end
  local upgrade, connection = join(rheader.upgrade), join(rheader.connection)
  if not upgrade or upgrade:lower() ~= "websocket" then error("websocket handshake upgrade must websocket") end
  if not connection or not connection:lower():find("upgrade", 1, true) then
    error("websocket handshake connection must upgrade")
  end
  local accept = rheader["sec-websocket-accept"]
  if not accept then error("websocket handshake need Sec-WebSocket-Accept") end
  if accept ~= core.ws_accept(key) then error("websocket handshake invalid Sec-WebSocket-Accept") end
  ws.header = rheader
  local rest = parser:rest()
  if rest ~= "" then ws.decoder:feed(rest) end
end

function M.connect(url, header, timeout)
  local protocol, host, uri = url:match("^(%a+)://([^/]+)(.*)$")
  if protocol == "wss" then error("websocket: wss is not supported by tern") end
  if protocol ~= "ws" then error(format("invalid protocol: %s", tostring(protocol))) end
  local host_name, host_port = host:match("^([^:]+):?(%d*)$")
  assert(host_name and host_port, host)
  host_port = host_port == "" and 80 or tonumber(host_port)
  uri = uri == "" and "/" or uri
  local id = sockethelper.connect(host_name, host_port, timeout)
  local ws = new_ws(id, "client")
  ws.addr = host
  local ok, err = pcall(client_handshake, ws, host, uri, header)
  if not ok then
    close_socket(ws)
    error(err, 0)
  end
  return id
end

-- The next message; false, reason, code when the connection ends (the close
-- frame's reason and code, the protocol error we closed with, or "connection
-- closed" and 1006 when the socket went away without a close frame).
function M.read(id)
  local ws = assert(ws_pool[id], "websocket: not an open websocket")
  while true do
    local kind, a, b = next_event(ws)
    if kind == "text" or kind == "binary" then
      return a
    elseif kind == "ping" then
      send(ws, "pong", a)
    elseif kind == "close" then
      send_close(ws, a, "")
      close_socket(ws)
      return false, b, close_code(a)
    elseif kind == "error" then
      send_close(ws, a, b)
      close_socket(ws)
      return false, b, a
    elseif kind == nil then
      close_socket(ws)
      return false, "connection closed", 1006
    end  -- pong: nothing to do
  end
end

function M.write(id, data, fmt, masking_key)
  local ws = assert(ws_pool[id], "websocket: not an open websocket")
  fmt = fmt or "text"
  assert(fmt == "text" or fmt == "binary", fmt)
  return send(ws, fmt, data, masking_key)
end

function M.ping(id, payload)
  local ws = assert(ws_pool[id], "websocket: not an open websocket")
  return send(ws, "ping", payload)
end

function M.addrinfo(id)
  local ws = assert(ws_pool[id], "websocket: not an open websocket")
  return ws.addr
end

-- X-Real-IP from the handshake (set by a proxy), else the peer's address.
function M.real_ip(id)
  local ws = assert(ws_pool[id], "websocket: not an open websocket")
  if ws.real_ip then return ws.real_ip end
  local addr = ws.addr
  return addr and (addr:match("^%[(.-)%]") or addr:match("^([^:]+)")) or addr
end

function M.is_close(id)
  return is_closed(id)
end

-- Sends a close frame (code and reason, if given) and closes the socket.
function M.close(id, code, reason)
  local ws = ws_pool[id]
  if not ws then return end
  local ok, err = pcall(send_close, ws, code, reason)
  close_socket(ws)
  if not ok then skynet.error(err) end
end

return M
