local skynet = require "skynet"
local socket = require "skynet.socket"
local url = require "http.url"
local sockethelper = require "http.sockethelper"
local t = require "testlib"
t.run("test_http_helpers", function()
  -- http.url
  local path, query = url.parse("/a%20b/c+d?x=1&y=a+b%21")
  t.eq(path, "/a b/c d", "path decoded")
  t.eq(query, "x=1&y=a+b%21", "query as it came")
  local q = url.parse_query(query)
  t.eq(q.x, "1", "x")
  t.eq(q.y, "a b!", "y decoded")
  t.eq(select(2, url.parse("/plain")), "", "no query")
  t.eq(url.parse_query("k=&=v&bad&z=%zz").k, "", "empty value")
  t.eq(url.parse_query("z=%zz").z, "%zz", "a bad escape stays as it is")

  -- http.sockethelper against a small line server
  local listen_id, _, port = socket.listen("127.0.0.1", 0)
  socket.start(listen_id, function(id)
    socket.start(id)
    skynet.fork(function()
      local line = socket.readline(id)
      if line then socket.write(id, "got " .. line .. "\n") end
      socket.close(id)
    end)
  end)
  local fd = sockethelper.connect("127.0.0.1", port, 100)
  local write = sockethelper.writefunc(fd)
  write("hello\n")
  local read = sockethelper.readfunc(fd, "pre:")
  t.eq(read(2), "pr", "pre-read data first")
  t.eq(read(2), "e:", "the rest of it")
  t.eq(read(10), "got hello\n", "then the socket")
  local ok, err = pcall(read, 1)
  t.check(not ok and err == sockethelper.socket_error, "read after close raises socket_error")
  t.check(tostring(err):match("^%[Socket Error%] read failed"), tostring(err))
  sockethelper.close(fd)
  socket.close(listen_id)

  -- connecting to a closed port raises socket_error naming the address
  local ok2, err2 = pcall(sockethelper.connect, "127.0.0.1", port, 50)
  t.check(not ok2 and err2 == sockethelper.socket_error, "connect to a closed port fails")
  t.check(tostring(err2):match("connect failed host = 127.0.0.1"), tostring(err2))
end)
