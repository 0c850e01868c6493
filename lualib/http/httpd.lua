-- http.httpd (skynet's API) on tern's HTTP core (tern.httpcore: libhttp-parser).
--
-- read_request(readfunc, bodylimit) -> code, url, method, header, body
--   code 200 and the request; or an error status alone: 400 (malformed),
--   413 (body over bodylimit), 414 (target over 8 KiB), 431 (header block over
--   httpd.max_header bytes, or over 100 fields), 505 (not HTTP/1.x); or nil and
--   what readfunc raised (sockethelper.socket_error when the socket closed).
--   Header names are lower case; a repeated header's value is a table of its
--   values. Chunked bodies are de-chunked (trailers join the header table).
--   Keep-alive and pipelining: the bytes after one request stay with the
--   parser of that readfunc, so call read_request again with the same
--   readfunc for the next request on the connection.
-- write_response(writefunc, statuscode, bodyfunc, header) -> ok, err
--   A string body goes with Content-Length, in one write together with the
--   head; a function body (called until it returns nil) goes chunked, its
--   first chunk in the same write as the head; no body: Content-Length: 0
--   (unless 1xx/204/304 or the header table sets the length/encoding).
local core = require "tern.httpcore"

local type, pairs, ipairs, pcall, error = type, pairs, ipairs, pcall, error
local format, concat = string.format, table.concat

local httpd = {}

-- skynet's limit on the request line + headers (its LIMIT). Past it: 431.
httpd.max_header = 8192

-- readfunc -> its connection's parser. Weak keys: a parser goes with the
-- readfunc (a connection) that owns it.
local parsers = setmetatable({}, { __mode = "k" })

local function readall(readbytes, bodylimit)
  local parser = parsers[readbytes]
  if not parser then
    parser = core.request_parser()
    parsers[readbytes] = parser
  end
  parser:limits(httpd.max_header, bodylimit)
  while true do
    local method, url, header, body = parser:pop()
    if method then return 200, url, method, header, body end
    local status = parser:error()
    if status then
      parsers[readbytes] = nil
      return status
    end
    local data = readbytes()
    if type(data) ~= "string" then
      parsers[readbytes] = nil
      error("read failed")
    end
    parser:feed(data)
  end
end

function httpd.read_request(readbytes, bodylimit)
  local ok, code, url, method, header, body = pcall(readall, readbytes, bodylimit)
  if ok then return code, url, method, header, body end
  parsers[readbytes] = nil
  return nil, code
end

-- Whether the header table sets the body's framing itself.
local function has_framing(header)
  for k in pairs(header) do
    local name = type(k) == "string" and k:lower()
    if name == "content-length" or name == "transfer-encoding" then return true end
  end
  return false
end

local function writeall(writefunc, statuscode, bodyfunc, header)
  local out = { format("HTTP/1.1 %03d %s\r\n", statuscode, core.reason(statuscode)) }
  local n = 1
  if header then
    for k, v in pairs(header) do
      if type(v) == "table" then
        for _, each in ipairs(v) do
          n = n + 1
          out[n] = format("%s: %s\r\n", k, each)
        end
      else
        n = n + 1
        out[n] = format("%s: %s\r\n", k, v)
      end
    end
  end
  local t = type(bodyfunc)
  if t == "string" then
    out[n + 1] = format("content-length: %d\r\n\r\n", #bodyfunc)
    out[n + 2] = bodyfunc
    writefunc(concat(out))
  elseif t == "function" then
    n = n + 1
    out[n] = "transfer-encoding: chunked\r\n\r\n"
    while true do
      local s = bodyfunc()
      if not s then
        out[n + 1] = "0\r\n\r\n"
        writefunc(concat(out, "", 1, n + 1))
        break
      end
      if s ~= "" then
        out[n + 1] = format("%x\r\n", #s)
        out[n + 2] = s
        out[n + 3] = "\r\n"
        writefunc(concat(out, "", 1, n + 3))
        n = 0
      end
    end
  else
    assert(t == "nil", "body must be a string, a function or nil")
    local bodiless = statuscode < 200 or statuscode == 204 or statuscode == 304
    if not bodiless and not (header and has_framing(header)) then
      n = n + 1
      out[n] = "content-length: 0\r\n"
    end
    out[n + 1] = "\r\n"
    writefunc(concat(out, "", 1, n + 1))
  end
end

function httpd.write_response(...)
  return pcall(writeall, ...)
end

return httpd
