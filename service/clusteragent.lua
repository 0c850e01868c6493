-- clusteragent CLUSTERD FD PEER: one link accepted by this node's cluster port.
-- It greets the peer (HELLO), checks its JOIN (the cluster secret, if one is
-- set), then serves its requests: each call is made to the local service in a
-- coroutine of its own and its reply written back with the request's session;
-- pushes are sent on. Requests are handed to local services in the order they
-- arrived (the forks run in order, each sends before it waits).
--
-- A peer that sends anything but a well-formed stream (garbage, a frame of a
-- bad length or kind, a message over the limit), that does not JOIN within
-- 5 s, or that fails the secret is logged with the reason and dropped; only
-- this agent ends.
local skynet = require "skynet"
local driver = require "skynet.socketdriver"
local core = require "skynet.cluster.core"

local clusterd, fd, peer = ...
clusterd = tonumber(clusterd)
fd = tonumber(fd)
local secret = skynet.getenv "cluster_secret"
if secret == "" then secret = nil end
local JOIN_TIMEOUT = 500  -- cs

local max_message = tonumber(skynet.getenv "cluster_max_message") or core.MAX_MESSAGE
local decoder = core.decoder("server", max_message)
local names = {}         -- registered name -> address (clusterd keeps it current)
local state = "starting" -- starting -> hello (HELLO sent) -> ready -> closed (socket closing) -> gone
local server_nonce
local who = peer         -- the peer, for the log (its node name added after JOIN)
local CALL, SEND, JOIN = core.CALL, core.SEND, core.JOIN

local socket_open = true

local function finish()
  if state == "gone" then return end
  state = "gone"
  skynet.send(clusterd, "lua", "agent_gone")
  skynet.exit()
end

-- Closes the link (flush: after what is queued is written) and ends when the
-- socket is gone, so that its last event does not arrive at a dead service.
local function close(why, flush)
  if state == "closed" or state == "gone" then return end
  state = "closed"
  if why then skynet.error(string.format("cluster: dropped peer %s: %s", who, why)) end
  if not socket_open then return finish() end
  if flush then driver.close(fd) else driver.shutdown(fd) end
  skynet.timeout(100, finish)  -- in case no CLOSE comes
end

local function write_reply(s, ok, msg, sz)
  if state ~= "ready" then return end
  if ok and sz and sz > max_message then
    -- The caller's node would drop the link for it: say why instead.
    ok, msg, sz = false, string.format("the reply of %d bytes is over the limit of %d (cluster_max_message)",
      sz, max_message), nil
  end
  local buf, size = core.reply(s, ok, msg, sz)
  if size then
    driver.send(fd, buf, size)
  else
    -- A large reply comes in 1 MiB pieces, written with low priority so that
    -- small replies get out between them.
    for i = 1, #buf, 2 do driver.lsend(fd, buf[i], buf[i + 1]) end
  end
end

local function resolve(target)
  if type(target) == "string" and target:byte(1) == 64 then  -- "@name"
    return names[target:sub(2)]
  end
  return target
end

local function serve_call(s, target, msg, sz)
  if target == 0 then  -- cluster.query: which address has this name
    local name = skynet.unpack(msg, sz)
    skynet.trash(msg, sz)
    local addr = names[name]
    if addr then
      write_reply(s, true, skynet.packstring(addr))
    else
      write_reply(s, false, "cluster name " .. tostring(name) .. " is not registered")
    end
    return
  end
  local addr = resolve(target)
  if not addr then
    skynet.trash(msg, sz)
    write_reply(s, false, "cluster name " .. target .. " is not registered")
    return
  end
  local ok, rmsg, rsz = pcall(skynet.rawcall, addr, "lua", msg, sz)
  if ok then
    write_reply(s, true, rmsg, rsz)
  else
    write_reply(s, false, tostring(rmsg))
  end
end

local function serve_send(target, msg, sz)
  local addr = resolve(target)
  if addr and addr ~= 0 then
    skynet.rawsend(addr, "lua", msg, sz)
  else
    skynet.trash(msg, sz)
    skynet.error(string.format("cluster: push from %s to unknown %s dropped", who, tostring(target)))
  end
end

local function on_join(body)
  local ok, a, b = core.accept(body, server_nonce, secret)
  if not ok then
    driver.send(fd, b)  -- REFUSE, then close after it is written
    return close("refused: " .. a, true)
  end
  driver.send(fd, a)  -- WELCOME
  decoder:ready()
  state = "ready"
  who = string.format("%s (%s)", peer, b)
  skynet.error("cluster: link from " .. who)
end

local function on_data(data, size)
  decoder:feed(data, size)
  local forked = false
  while state == "hello" or state == "ready" do
    local kind, s, a, b, d = decoder:pop()
    if kind == nil then return end
    if kind == false then return close(s) end
    if state == "ready" then
      if kind == CALL then
        skynet.fork(serve_call, s, a, b, d)
        forked = true
      elseif kind == SEND then
        -- After a forked call, a push waits its turn behind it.
        if forked then skynet.fork(serve_send, a, b, d) else serve_send(a, b, d) end
      else
        return close("unexpected frame kind " .. kind .. " on a set-up link")
      end
    else
      if kind ~= JOIN then
        if (kind == CALL or kind == SEND) and d then core.free(d) end
        return close("expected JOIN, got frame kind " .. kind)
      end
      on_join(a)
    end
  end
end

local on = {}

on[1] = function(id, size, data)  -- DATA
  if id ~= fd or state ~= "hello" and state ~= "ready" then
    driver.drop(data, size)
    return
  end
  on_data(data, size)
end

on[2] = function(id)  -- CONNECT: the socket is ours and reading
  if id ~= fd or state ~= "starting" then return end
  local frame
  frame, server_nonce = core.hello(secret)
  state = "hello"
  driver.nodelay(fd)
  driver.send(fd, frame)
end

local function on_closed(why)
  socket_open = false
  if state == "closed" then return finish() end
  if state == "gone" then return end
  local buffered, partial = decoder:buffered()
  if buffered > 0 or partial > 0 then
    why = string.format("the link closed with a truncated frame (%d bytes of an incomplete frame, %d incomplete messages)",
      buffered, partial)
  elseif state ~= "ready" then
    why = why or "the link closed before it was set up"
  else
    skynet.error("cluster: link from " .. who .. " closed")
    why = nil
  end
  close(why)
end

on[3] = function(id)  -- CLOSE
  if id == fd then on_closed() end
end

on[5] = function(id, _, err)  -- ERROR
  if id == fd then on_closed("socket error: " .. tostring(err)) end
end

skynet.register_protocol {
  name = "socket",
  id = skynet.PTYPE_SOCKET,
  unpack = driver.unpack,
  dispatch = function(_, _, kind, ...)
    local f = on[kind]
    if f then f(...) end
  end,
}

skynet.start(function()
  names = skynet.call(clusterd, "lua", "subscribe")
  skynet.dispatch("lua", function(_, _, cmd, arg)
    if cmd == "names" then
      names = arg
    elseif cmd == "exit" then
      close("closed by clusterd")
    else
      skynet.error("clusteragent: unknown command " .. tostring(cmd))
    end
  end)
  driver.start(fd)
  skynet.timeout(JOIN_TIMEOUT, function()
    if state == "starting" or state == "hello" then
      close("no JOIN within " .. JOIN_TIMEOUT // 100 .. " s")
    end
  end)
end)
