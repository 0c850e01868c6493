-- skynet.socketchannel against t_socket_server: order mode (concurrent
-- requests answered in order), session mode (answers out of order, an error
-- reply), the auth hook on each (re)connect, reconnection after the server
-- closes the connection, a request in flight when the server kicks us fails
-- with socketchannel.error, and a closed channel refuses requests.
local skynet = require "skynet"
local sc = require "skynet.socketchannel"
local t = require "testlib"

local function read_line(sock)
  return true, sock:readline()
end

t.run("test_socketchannel", function()
  local server = skynet.newservice("t_socket_server")

  -- order mode, with auth
  local port = skynet.call(server, "lua", "listen", "line")
  local auths = 0
  local ch = sc.channel {
    host = "127.0.0.1",
    port = port,
    nodelay = true,
    auth = function(self)
      auths = auths + 1
      local answer = self:request("AUTH secret\n", read_line)
      assert(answer == "AUTH secret", "auth echo: " .. tostring(answer))
    end,
  }
  ch:connect(true)
  t.eq(auths, 1, "auth on connect")
  t.eq(ch:request("hello\n", read_line), "hello", "order request")
  local results, finished = {}, 0
  for i = 1, 10 do
    skynet.fork(function()
      results[i] = ch:request("msg " .. i .. "\n", read_line)
      finished = finished + 1
    end)
  end
  while finished < 10 do skynet.sleep(1) end
  for i = 1, 10 do t.eq(results[i], "msg " .. i, "concurrent order request " .. i) end
  -- a reader reading two lines for one request (padding-free multi-line reply)
  t.eq(ch:request("a\nb\n", function(sock) return true, sock:readline() .. "+" .. sock:readline() end),
    "a+b", "multi-line reply")
  -- a request without a reply
  ch:request("ignored\n")
  t.eq(ch:request("after\n", read_line), "ignored", "the unanswered reply is still in the stream")
  t.eq(ch:request("x\n", read_line), "after", "and the stream stays in order")
  ch:request("", function(sock) return true, sock:readline() end)  -- drain "x"

  -- the server drops the connection: a request in flight fails, the next reconnects
  local inflight_err
  skynet.fork(function()
    local ok, err = pcall(ch.request, ch, "never answered 1 2 3\n", function(sock)
      sock:readline()  -- the echo
      return true, sock:readline()  -- waits for a second line that never comes
    end)
    inflight_err = ok and "no error" or err
  end)
  skynet.sleep(5)
  skynet.call(server, "lua", "kick")
  for _ = 1, 200 do
    if inflight_err then break end
    skynet.sleep(1)
  end
  t.eq(inflight_err, sc.error, "request in flight fails with socketchannel.error")
  t.eq(ch:request("again\n", read_line), "again", "reconnected")
  t.eq(auths, 2, "auth on reconnect")

  -- the server closes after each 3 lines: keep going across reconnects
  local port2 = skynet.call(server, "lua", "listen", "close_after", 3)  -- AUTH + 2 requests
  ch:changehost("127.0.0.1", port2)
  local before = auths
  for i = 1, 6 do
    t.eq(ch:request("r" .. i .. "\n", read_line), "r" .. i, "request across reconnects " .. i)
    if i % 2 == 0 then  -- the server closes now: wait until the channel has seen it
      for _ = 1, 500 do
        if not ch.__sock then break end
        skynet.sleep(1)
      end
    end
  end
  t.check(auths - before >= 3, "auth per reconnect (" .. (auths - before) .. ")")

  ch:close()
  local ok, err = pcall(ch.request, ch, "closed\n", read_line)
  t.eq(ok, false, "request on a closed channel")
  t.check(tostring(err):find("closed", 1, true), "closed channel error: " .. tostring(err))

  -- session mode
  local sport = skynet.call(server, "lua", "listen", "session")
  local sch = sc.channel {
    host = "127.0.0.1",
    port = sport,
    response = function(sock)
      local line = sock:readline()
      local session, text = line:match("^(%d+) (.*)$")
      if text:sub(1, 1) == "!" then return tonumber(session), false, text:sub(2) end
      return tonumber(session), true, text
    end,
  }
  sch:connect(true)
  local order, answers, n = {}, {}, 0
  for i = 1, 5 do
    skynet.fork(function()
      local delay = (6 - i) * 5  -- the first request is answered last
      answers[i] = sch:request(string.format("%d %d text%d\n", i, delay, i), i)
      order[#order + 1] = i
      n = n + 1
    end)
  end
  while n < 5 do skynet.sleep(1) end
  for i = 1, 5 do t.eq(answers[i], "text" .. i, "session answer " .. i) end
  t.eq(table.concat(order, ","), "5,4,3,2,1", "session answers out of order")
  local fok, ferr = pcall(sch.request, sch, "9 0 fail\n", 9)
  t.eq(fok, false, "error reply raises")
  t.check(tostring(ferr):find("fail", 1, true), "error reply text: " .. tostring(ferr))
  -- reconnect in session mode
  skynet.call(server, "lua", "kick")
  for _ = 1, 500 do  -- until the channel has seen the close
    if not sch.__sock then break end
    skynet.sleep(1)
  end
  t.eq(sch:request("11 0 back\n", 11), "back", "session mode reconnects")
  sch:close()
end)
