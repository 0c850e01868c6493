-- http.httpd on tern's HTTP core: keep-alive and pipelined requests answered
-- in order, a chunked request body, repeated headers, the error statuses
-- (413 body over the limit, 400 garbage, 431 header block too large, 505),
-- a closed socket, and write_response's framing and single write.
local skynet = require "skynet"
local socket = require "skynet.socket"
local httpd = require "http.httpd"
local sockethelper = require "http.sockethelper"
local t = require "testlib"

local seen = {}  -- what the server read, in order: {code, url, method, header, body}

-- One connection: read requests until an error or the close, echo each as
-- "METHOD URL BODY" with an x-n header counting requests on the connection.
local function serve(id)
  socket.start(id)
  local read, write = sockethelper.readfunc(id), sockethelper.writefunc(id)
  local n = 0
  while true do
    local code, url, method, header, body = httpd.read_request(read, 1024)
    seen[#seen + 1] = { code = code, url = url, method = method, header = header, body = body }
    if code ~= 200 then
      if code then httpd.write_response(write, code) end
      break
    end
    n = n + 1
    httpd.write_response(write, 200, method .. " " .. url .. " " .. body, { ["x-n"] = n })
    if header.connection == "close" then break end
  end
  socket.close(id)
end

local function response(n, text)
  return string.format("HTTP/1.1 200 OK\r\nx-n: %d\r\ncontent-length: %d\r\n\r\n%s", n, #text, text)
end

t.run("test_httpd", function()
  local lid, _, port = socket.listen("127.0.0.1", 0)
  socket.start(lid, function(id) skynet.fork(serve, id) end)
  local function connect() return assert(socket.open("127.0.0.1", port)) end
  local function expect(c, want, what)
    t.eq(socket.read(c, #want), want, what)
  end

  -- keep-alive: two requests, one after the other, on one connection
  local c = connect()
  socket.write(c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
  expect(c, response(1, "GET /one "), "first request")
  socket.write(c, "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
  expect(c, response(2, "POST /two hello"), "second request on the same connection")

  -- pipelined: three requests in one write (the last cut in two), in order
  socket.write(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzGET /c HT")
  socket.write(c, "TP/1.1\r\nX-A: 1\r\nx-a: 2\r\nX-A: 3\r\nConnection: close\r\n\r\n")
  expect(c, response(3, "GET /a ") .. response(4, "POST /b xyz") .. response(5, "GET /c "), "pipelined, in order")
  t.eq(socket.read(c), false, "closed after Connection: close")
  socket.close(c)
  local last = seen[#seen]
  t.check(t.same(last.header["x-a"], { "1", "2", "3" }), "a repeated header is a table of its values")
  t.eq(last.header.connection, "close", "header names are lower case")
  t.eq(last.header.host, nil, "no header from another request")

  -- chunked request body, with a trailer
  c = connect()
  socket.write(c, "POST /chunk HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n")
  socket.write(c, "0\r\nX-Trailer: yes\r\n\r\n")
  expect(c, response(1, "POST /chunk hello world"), "chunked body de-chunked")
  t.eq(seen[#seen].header["x-trailer"], "yes", "trailer in the header table")

  -- a chunked body over the limit: 413, then the connection is closed
  socket.write(c, "POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" .. string.rep("a", 1024) .. "\r\n")
  socket.write(c, "1\r\nb\r\n0\r\n\r\n")
  expect(c, "HTTP/1.1 413 Content Too Large\r\ncontent-length: 0\r\n\r\n", "chunked body over the limit")
  t.eq(socket.read(c), false, "closed after 413")
  socket.close(c)

  -- Content-Length over the limit: 413 at once (the body is not read)
  c = connect()
  socket.write(c, "POST /big HTTP/1.1\r\nContent-Length: 1025\r\n\r\n")
  expect(c, "HTTP/1.1 413 Content Too Large\r\ncontent-length: 0\r\n\r\n", "Content-Length over the limit")
  socket.close(c)
  t.eq(seen[#seen].code, 413, "read_request returned 413")
  t.eq(seen[#seen].url, nil, "an error status comes alone")

  -- garbage: 400
  c = connect()
  socket.write(c, "\1\2\3 garbage\r\n\r\n")
  expect(c, "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n", "garbage")
  socket.close(c)

  -- a header block over httpd.max_header (8192): 431
  c = connect()
  socket.write(c, "GET / HTTP/1.1\r\nX-Big: " .. string.rep("h", 9000) .. "\r\n\r\n")
  expect(c, "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n", "header too large")
  socket.close(c)

  -- HTTP/2.0 request line: 505
  c = connect()
  socket.write(c, "GET / HTTP/2.0\r\n\r\n")
  expect(c, "HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-length: 0\r\n\r\n", "HTTP/2.0")
  socket.close(c)

  -- the peer closes between requests: nil and sockethelper.socket_error
  local count = #seen
  c = connect()
  socket.write(c, "GET /x HTTP/1.1\r\n\r\n")
  expect(c, response(1, "GET /x "), "one request")
  socket.close(c)
  while #seen < count + 2 do skynet.sleep(1) end
  t.eq(seen[count + 2].code, nil, "closed: no code")
  t.check(seen[count + 2].url == sockethelper.socket_error, "closed: socket_error")

  -- write_response: one write for head + string body; chunked function body
  local writes = {}
  local function writefunc(s) writes[#writes + 1] = s end
  t.check(httpd.write_response(writefunc, 404, "nope", { ["content-type"] = "text/plain" }), "write ok")
  t.eq(#writes, 1, "a string body: one write")
  t.eq(writes[1], "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\nnope", "404 bytes")
  writes = {}
  local parts = { "ab", "", "cde" }
  local i = 0
  httpd.write_response(writefunc, 200, function()
    i = i + 1
    return parts[i]
  end, { ["set-cookie"] = { "a=1", "b=2" } })
  t.eq(table.concat(writes), "HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n" ..
    "transfer-encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n", "chunked bytes")
  t.eq(#writes, 3, "chunked: head with the first chunk, then one write per chunk, then the end")
  writes = {}
  httpd.write_response(writefunc, 204)
  t.eq(writes[1], "HTTP/1.1 204 No Content\r\n\r\n", "204: no length")
  local ok, err = httpd.write_response(function() error("broken pipe") end, 200, "x")
  t.check(not ok and tostring(err):find("broken pipe"), "a failing writefunc: false, error")
  socket.close(lid)
end)
