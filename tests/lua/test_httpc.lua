-- http.httpc against this test's own http.httpd server: get, post (form),
-- request with a header table and content, recvheader, a chunked response,
-- a body delimited by the close, HEAD, request_stream, httpc.dns with a name
-- from /etc/hosts, https refused, a connect failure, and httpc.timeout against
-- a server that never answers.
local skynet = require "skynet"
local socket = require "skynet.socket"
local httpd = require "http.httpd"
local httpc = require "http.httpc"
local url = require "http.url"
local sockethelper = require "http.sockethelper"
local t = require "testlib"

local routes = {}

function routes.hello(write)
  httpd.write_response(write, 200, "hello", { ["content-type"] = "text/plain" })
end

function routes.echo(write, method, query, header, body)
  local text = string.format("%s|%s|%s|%s|%s", method, query, header["content-type"] or "",
    header["x-test"] or "", body)
  httpd.write_response(write, 201, text)
end

function routes.chunked(write)
  local parts = { "one,", "two,", "three" }
  local i = 0
  httpd.write_response(write, 200, function()
    i = i + 1
    if parts[i] then skynet.sleep(3) end  -- separate writes reach the client apart
    return parts[i]
  end, { ["x-kind"] = "chunked" })
end

local function serve(id)
  socket.start(id)
  local read, write = sockethelper.readfunc(id), sockethelper.writefunc(id)
  while true do
    local code, target, method, header, body = httpd.read_request(read, 65536)
    if code ~= 200 then break end
    local path, query = url.parse(target)
    if path == "/raw" then
      -- no Content-Length, not chunked: the body ends with the connection
      socket.write(id, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close")
      break
    end
    local route = routes[path:sub(2)]
    if route then
      route(write, method, query, header, body)
    else
      httpd.write_response(write, 404, "no " .. path)
    end
  end
  socket.close(id)
end

t.run("test_httpc", function()
  local lid, _, port = socket.listen("127.0.0.1", 0)
  socket.start(lid, function(id) skynet.fork(serve, id) end)
  local host = "127.0.0.1:" .. port

  local recv = {}
  local code, body = httpc.get(host, "/hello", recv)
  t.eq(code, 200, "get code")
  t.eq(body, "hello", "get body")
  t.eq(recv["content-type"], "text/plain", "recvheader filled")
  t.eq(recv["content-length"], "5", "recvheader content-length")

  code, body = httpc.get("http://" .. host, "/nothing")
  t.eq(code, 404, "404 through an http:// host")
  t.eq(body, "no /nothing", "404 body")

  code, body = httpc.post(host, "/echo", { name = "a b&c" })
  t.eq(code, 201, "post code")
  t.eq(body, "POST||application/x-www-form-urlencoded||name=a%20b%26c", "post form, urlencoded")

  code, body = httpc.request("PUT", host, "/echo?q=1", nil, { ["X-Test"] = "yes" }, "raw content")
  t.eq(body, "PUT|q=1||yes|raw content", "request with header and content")

  recv = {}
  code, body = httpc.get(host, "/chunked", recv)
  t.eq(code, 200, "chunked code")
  t.eq(body, "one,two,three", "chunked response de-chunked")
  t.eq(recv["transfer-encoding"], "chunked", "chunked header")
  t.eq(recv["x-kind"], "chunked", "chunked: other header")

  code, body = httpc.get(host, "/raw")
  t.eq(body, "until the close", "body delimited by the close")

  t.eq(httpc.head(host, "/hello"), 200, "head")

  -- request_stream: the pieces as they come, then nil
  local stream = httpc.request_stream("GET", host, "/chunked")
  t.eq(stream.status, 200, "stream status")
  t.eq(stream.header["x-kind"], "chunked", "stream header")
  local pieces = {}
  for piece in stream do pieces[#pieces + 1] = piece end
  t.eq(table.concat(pieces), "one,two,three", "stream body")
  t.check(#pieces >= 2, "stream came in pieces (" .. #pieces .. ")")

  -- names through skynet.dns (localhost comes from /etc/hosts)
  httpc.dns("127.0.0.1", 1)
  code, body = httpc.get("localhost:" .. port, "/hello")
  t.eq(body, "hello", "get through httpc.dns")

  local ok, err = pcall(httpc.get, "https://" .. host, "/hello")
  t.check(not ok and tostring(err):find("https is not supported"), "https refused: " .. tostring(err))

  -- nothing listens on a closed port: socket_error
  local closed_id, _, closed_port = socket.listen("127.0.0.1", 0)
  socket.close(closed_id)
  ok, err = pcall(httpc.get, "127.0.0.1:" .. closed_port, "/")
  t.check(not ok and err == sockethelper.socket_error, "connect failure: " .. tostring(err))

  -- a server that accepts and never answers: httpc.timeout (centiseconds)
  local sid, _, silent_port = socket.listen("127.0.0.1", 0)
  local silent = {}
  socket.start(sid, function(id)
    silent[#silent + 1] = id
    socket.start(id)
  end)
  httpc.timeout = 30
  local start = skynet.now()
  ok, err = pcall(httpc.get, "127.0.0.1:" .. silent_port, "/")
  local took = skynet.now() - start
  httpc.timeout = nil
  t.check(not ok and tostring(err):find("timeout"), "timeout error: " .. tostring(err))
  t.check(took >= 29 and took < 200, "timed out after " .. took .. " cs")
  for _, id in ipairs(silent) do socket.close(id) end
  socket.close(sid)
  socket.close(lid)
end)
