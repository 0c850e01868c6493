-- clustersender NODE: the link from this node to cluster node NODE (one
-- sender per remote node, made by clusterd on first use). Every request of
-- every service of this node to NODE goes through here, multiplexed on one
-- TCP link by session.
--
-- The link is opened on the first request and set up (HELLO, JOIN, WELCOME:
-- src/cluster/handshake.hpp); requests made meanwhile wait in order and go out
-- once it is ready. A reply goes straight back to the caller from here (no
-- coroutine waits for it). When the link fails or closes, every request in
-- flight on it fails at once with an error naming the node; the next request
-- opens a new link. Commands (lua protocol):
--
--   req(target, msg, sz [, timeout])   a call; the caller gets the reply
--   push(target, msg, sz)              a send, no reply
--   changenode(address, nowaiting)     from clusterd: the node's entry changed
--                                      ("host:port", false = down, nil = absent)
local skynet = require "skynet"
local c = require "skynet.core"
local driver = require "skynet.socketdriver"
local core = require "skynet.cluster.core"

local node = ...
local secret = skynet.getenv "cluster_secret"
if secret == "" then secret = nil end
local max_message = tonumber(skynet.getenv "cluster_max_message") or core.MAX_MESSAGE
local nodename = core.nodename()
local SETUP_TIMEOUT = 500  -- cs: connect and handshake

local PTYPE_RESPONSE, PTYPE_ERROR = skynet.PTYPE_RESPONSE, skynet.PTYPE_ERROR
local CALL_OK, CALL_ERR = core.OK, core.ERR

local address     -- "host:port", false (down) or nil (absent, not known yet)
local nowaiting = false
local link        -- the current link: { fd, state, decoder, address, expect }
local links = {}  -- fd -> link, while its socket is ours
local queue = {}  -- requests waiting for the link: { session, buf, size }, in order
local pending = {}  -- session -> { source, session } of a call in flight or queued
local session = 0
local told_waiting = false

local function name_of(a)
  if a then return string.format("cluster node [%s] (%s)", node, a) end
  return string.format("cluster node [%s]", node)
end

local function fail(p, why)
  c.send(p.source, PTYPE_ERROR, p.session, why)
end

local function clear_queue()
  for _, q in ipairs(queue) do core.free(q[2]) end
  queue = {}
end

-- Every call in flight or waiting fails with why.
local function fail_all(why)
  clear_queue()
  local all = pending
  pending = {}
  for _, p in pairs(all) do fail(p, why) end
end

local function drop_link(why)
  local l = link
  if not l then return end
  link = nil
  links[l.fd] = nil
  driver.shutdown(l.fd)
  local text = name_of(l.address) .. ": " .. why
  skynet.error("cluster: " .. text)
  fail_all(text)
end

local function next_session()
  repeat
    session = session % 0x7fffffff + 1
  until pending[session] == nil
  return session
end

local function connect()
  local host, port = address:match("^(.+):(%d+)$")
  host = host:match("^%[(.*)%]$") or host
  local fd = driver.connect(host, tonumber(port))
  if fd < 0 then
    fail_all(name_of(address) .. ": connect failed")
    return
  end
  local l = { fd = fd, state = "connecting", address = address, decoder = core.decoder("client", max_message) }
  link = l
  links[fd] = l
  skynet.timeout(SETUP_TIMEOUT, function()
    if link == l and l.state ~= "ready" then
      drop_link("no answer within " .. SETUP_TIMEOUT // 100 .. " s while setting up the link")
    end
  end)
end

local function submit(s, buf, size)
  local l = link
  if l and l.state == "ready" then
    driver.send(l.fd, buf, size)  -- if the socket is gone, its CLOSE fails the calls
    return
  end
  queue[#queue + 1] = { s, buf, size }
  if not l and type(address) == "string" then
    connect()
  elseif address == nil and not told_waiting then
    told_waiting = true
    skynet.error(string.format("cluster: waiting for node [%s] to appear in the cluster map", node))
  end
end

local function refuse_now()
  if address == false then return name_of() .. " is down" end
  if address == nil and nowaiting then return name_of() .. " is not in the cluster map" end
end

local command = {}

-- Why a request cannot go now, or nil.
local function refuse_request(sz)
  if sz and sz > max_message then
    return string.format("%s: a message of %d bytes is over the limit of %d (cluster_max_message)",
      name_of(address), sz, max_message)
  end
  return refuse_now()
end

function command.req(caller_session, source, target, msg, sz, timeout)
  skynet.ignoreret()  -- answered from on_reply, fail or the timer
  local refused = refuse_request(sz)
  if refused then
    skynet.trash(msg, sz)
    c.send(source, PTYPE_ERROR, caller_session, refused)
    return
  end
  local s = next_session()
  local buf, size = core.request(s, target, msg, sz, false)
  local p = { source = source, session = caller_session }
  pending[s] = p
  if timeout then
    skynet.timeout(timeout, function()
      if pending[s] ~= p then return end
      pending[s] = nil
      for i, q in ipairs(queue) do
        if q[1] == s then
          core.free(q[2])
          table.remove(queue, i)
          break
        end
      end
      fail(p, string.format("%s: call timeout after %d cs", name_of(address), timeout))
    end)
  end
  submit(s, buf, size)
end

function command.push(_, _, target, msg, sz)
  local refused = refuse_request(sz)
  if refused then
    skynet.trash(msg, sz)
    if sz and sz > max_message then skynet.error("cluster: push dropped: " .. refused) end
    return
  end
  -- A session of its own: a large push is reassembled by session.
  local buf, size = core.request(next_session(), target, msg, sz, true)
  submit(0, buf, size)
end

function command.changenode(_, _, a, nw)
  nowaiting = nw and true or false
  if a ~= address then
    local old = address
    address = a
    if a then told_waiting = false end
    if link then
      link.address = old
      drop_link(a == false and "the node is down in the cluster map" or "its address changed in the cluster map")
    end
  end
  if link then return end
  local refused = refuse_now()
  if refused then
    fail_all(refused)
  elseif type(address) == "string" and queue[1] then
    connect()
  end
end

local function on_reply(kind, s, msg, sz)
  local p = pending[s]
  if not p then  -- timed out, or the caller's link was dropped
    if msg then core.free(msg) end
    return
  end
  pending[s] = nil
  if kind == CALL_OK then
    c.send(p.source, PTYPE_RESPONSE, p.session, msg, sz)  -- the bytes pass on
  else
    local why = msg and skynet.tostring(msg, sz) or ""
    if msg then core.free(msg) end
    fail(p, name_of(link and link.address) .. ": " .. why)
  end
end

local function ready(l)
  l.state = "ready"
  l.expect = nil
  l.decoder:ready()
  local q = queue
  queue = {}
  for _, item in ipairs(q) do
    driver.send(l.fd, item[2], item[3])
  end
end

local function on_frames(l)
  local d = l.decoder
  while link == l do
    local kind, s, a, b = d:pop()
    if kind == nil then return end
    if kind == false then return drop_link("bad data from the node: " .. s) end
    if l.state == "ready" then
      if kind == CALL_OK or kind == CALL_ERR then
        on_reply(kind, s, a, b)
      else
        return drop_link("unexpected frame kind " .. kind)
      end
    elseif kind == CALL_OK or kind == CALL_ERR then
      if a then core.free(a) end
      return drop_link("a reply before the link was set up")
    elseif l.state == "hello" and kind == core.HELLO then
      local frame, expect = core.join(a, secret, nodename)
      if not frame then return drop_link(expect) end
      l.expect = expect
      l.state = "welcome"
      driver.send(l.fd, frame)
    elseif l.state == "welcome" and kind == core.WELCOME then
      local ok, why = core.welcome(a, l.expect)
      if not ok then return drop_link(why) end
      ready(l)
    elseif kind == core.REFUSE then
      return drop_link("refused: " .. a)
    else
      return drop_link("unexpected frame kind " .. kind .. " while setting up the link")
    end
  end
end

local on = {}

on[1] = function(fd, size, data)  -- DATA
  local l = links[fd]
  if not l then
    driver.drop(data, size)
    return
  end
  l.decoder:feed(data, size)
  on_frames(l)
end

on[2] = function(fd)  -- CONNECT
  local l = links[fd]
  if l and l.state == "connecting" then
    l.state = "hello"
    driver.nodelay(fd)
  end
end

on[3] = function(fd)  -- CLOSE
  local l = links[fd]
  if l then
    if link == l then drop_link("link closed") end
    links[fd] = nil
  end
end

on[5] = function(fd, _, err)  -- ERROR
  local l = links[fd]
  if l then
    if link == l then
      drop_link((l.state == "connecting" and "connect failed: " or "link failed: ") .. tostring(err))
    end
    links[fd] = nil
  end
end

skynet.register_protocol {
  name = "socket",
  id = skynet.PTYPE_SOCKET,
  unpack = driver.unpack,
  dispatch = function(_, _, kind, ...)
    local f = on[kind]
    if f then f(...) end  -- WARNING (7): large requests queue up, nothing to do
  end,
}

skynet.start(function()
  skynet.dispatch("lua", function(session, source, cmd, ...)
    local f = command[cmd]
    if not f then error("clustersender: unknown command " .. tostring(cmd)) end
    f(session, source, ...)
  end)
end)
