-- http.httpc (skynet's API): an HTTP/1.1 client for Lua services, one
-- connection per request, responses parsed by tern's HTTP core
-- (tern.httpcore.response_parser: Content-Length, chunked, or until close).
--
--   httpc.request(method, host, url [, recvheader [, header [, content]]]) -> code, body
--   httpc.get(host, url [, recvheader [, header]]), httpc.head(...) -> code
--   httpc.post(host, url, form [, recvheader])    form: urlencoded table
--   httpc.request_stream(...) -> stream          stream.status, stream.header;
--                                                 stream() / stream:padding() -> next body piece
--   httpc.timeout = centiseconds                  connect + whole request (nil: none);
--                                                 for request_stream, up to the head
--   httpc.dns([server [, port]])                  resolve names with skynet.dns
--
-- host is "name[:port]", optionally prefixed by "http://". https is not
-- supported (tern has no TLS for Lua sockets): "https://" raises an error.
-- Errors are raised, as skynet's: connect failures (sockethelper.socket_error),
-- a malformed response, a connection closed early, a timeout.
local skynet = require "skynet"
local socket = require "skynet.socket"
local sockethelper = require "http.sockethelper"
local dns = require "skynet.dns"
local core = require "tern.httpcore"

local format, concat = string.format, table.concat
local pairs, type, error, tostring = pairs, type, error, tostring

local httpc = {}

local async_dns

function httpc.dns(server, port)
  async_dns = true
  dns.server(server, port)
end

local function split_host(host)
  local scheme = host:match("^(%a+)://")
  if scheme then
    scheme = scheme:lower()
    if scheme == "https" then error("httpc: https is not supported by tern (no TLS for Lua sockets)") end
    if scheme ~= "http" then error(format("httpc: invalid protocol: %s", scheme)) end
    host = host:sub(#scheme + 4)
  end
  local name, port = host:match("^%[(.-)%]:?(%d*)$")  -- [v6]:port
  if not name then name, port = host:match("^([^:]+):?(%d*)$") end
  if not name then error(format("httpc: invalid host: %s", host)) end
  return host, name, port == "" and 80 or tonumber(port)
end

-- A connection: fd, the host as the Host header wants it, and a watchdog
-- that shuts the socket down when the timeout passes first.
local function connect(host, timeout)
  local hosthdr, name, port = split_host(host)
  local addr = name
  if async_dns and not name:match("^[%d%.]+$") and not name:find(":", 1, true) then
    addr = dns.resolve(name)
  end
  local fd = sockethelper.connect(addr, port, timeout)
  local conn = { fd = fd, host = hosthdr }
  if timeout then
    skynet.timeout(timeout, function()
      if not conn.finished and not conn.streaming then
        conn.timed_out = true
        socket.shutdown(fd)
      end
    end)
  end
  return conn
end

local function close(conn)
  conn.finished = true
  socket.close(conn.fd)
end

local function write_request(conn, method, url, header, content)
  local out, n = {}, 1
  out[1] = format("%s %s HTTP/1.1\r\n", method, url)
  local has_host = false
  if header then
    for k, v in pairs(header) do
      if type(k) == "string" and k:lower() == "host" then has_host = true end
      n = n + 1
      out[n] = format("%s: %s\r\n", k, v)
    end
  end
  if not has_host then
    n = n + 1
    out[n] = format("host: %s\r\n", conn.host)
  end
  if content and header and header["transfer-encoding"] == "chunked" then
    n = n + 1
    out[n] = "\r\n"  -- the caller chunked the content
  else
    n = n + 1
    out[n] = format("content-length: %d\r\n\r\n", content and #content or 0)
  end
  if content then out[n + 1] = content end
  if not socket.write(conn.fd, concat(out)) then error(format("httpc: write to %s failed", conn.host)) end
end

-- One read from the connection into the parser: the bytes read, or at the
-- end of the stream what was left and the end itself (finish() fails unless
-- the response can end there). Returns the parser's ok, why.
local function read_more(conn, parser)
  local data, rest = socket.read(conn.fd)
  if data then return parser:feed(data) end
  if rest and rest ~= "" then parser:feed(rest) end
  return parser:finish()
end

local function fail(conn, why)
  if conn.timed_out then error(format("httpc: %s request timeout (%s cs)", conn.host, tostring(httpc.timeout))) end
  error(format("httpc: %s: %s", conn.host, why))
end

-- Reads until the response head is in: code, header.
local function read_head(conn, parser, recvheader)
  while true do
    local code, header = parser:head(recvheader)
    if code then return code, header end
    local ok, why = read_more(conn, parser)
    if not ok then fail(conn, why) end
  end
end

-- Feeds the parser until the response is complete.
local function read_body(conn, parser)
  while not parser:done() do
    local ok, why = read_more(conn, parser)
    if not ok then fail(conn, why) end
  end
end

local function new_parser(method)
  local parser = core.response_parser()
  if method == "HEAD" then parser:no_body() end
  return parser
end

local function exchange(conn, method, url, recvheader, header, content)
  write_request(conn, method, url, header, content)
  local parser = new_parser(method)
  local code, rheader = read_head(conn, parser, recvheader)
  read_body(conn, parser)
  parser:trailers(rheader)
  return code, parser:body()
end

function httpc.request(method, host, url, recvheader, header, content)
  local conn = connect(host, httpc.timeout)
  local ok, code, body = pcall(exchange, conn, method, url, recvheader, header, content)
  close(conn)
  if not ok then error(code, 0) end
  return code, body
end

function httpc.head(host, url, recvheader, header, content)
  local code = httpc.request("HEAD", host, url, recvheader, header, content)
  return code
end

function httpc.get(...)
  return httpc.request("GET", ...)
end

local function escape(s)
  return (tostring(s):gsub("([^A-Za-z0-9_])", function(c) return format("%%%02X", c:byte()) end))
end

function httpc.post(host, url, form, recvheader)
  local header = { ["content-type"] = "application/x-www-form-urlencoded" }
  local body = {}
  for k, v in pairs(form) do body[#body + 1] = escape(k) .. "=" .. escape(v) end
  return httpc.request("POST", host, url, recvheader, header, concat(body, "&"))
end

-- Streaming: the body as it arrives. stream() (or stream:padding()) returns
-- the next piece, nil at the end (the connection is then closed); a broken
-- or timed-out connection raises. `for piece in stream do ... end` works, and
-- so does `local s <close> = httpc.request_stream(...)`.
local stream = {}
stream.__index = stream

function stream:close()
  if not self._conn.finished then close(self._conn) end
  self.connected = nil
end

function stream:padding()
  local parser, conn = self._parser, self._conn
  while true do
    local piece = parser:body()
    if piece ~= "" then return piece, self end
    if parser:done() or conn.finished then
      parser:trailers(self.header)
      self:close()
      return nil
    end
    local ok, why = read_more(conn, parser)
    if not ok then
      self.connected = false
      local text = conn.timed_out and format("httpc: %s request timeout", conn.host) or
        format("httpc: %s: %s", conn.host, why)
      self:close()
      error(text)
    end
  end
end

stream.__call = stream.padding
stream.__close = stream.close

function httpc.request_stream(method, host, url, recvheader, header, content)
  local conn = connect(host, httpc.timeout)
  local parser = new_parser(method)
  local ok, code, rheader = pcall(function()
    write_request(conn, method, url, header, content)
    return read_head(conn, parser, recvheader)
  end)
  if not ok then
    close(conn)
    error(code, 0)
  end
  conn.streaming = true  -- httpc.timeout covers the head only (as in skynet)
  return setmetatable({ status = code, header = rheader, connected = true, _conn = conn, _parser = parser },
    stream)
end

return httpc
