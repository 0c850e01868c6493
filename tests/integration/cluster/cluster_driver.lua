-- The scenarios of the cluster tests, run on one node and called by the test
-- script through the debug console: `call .driver "basic", "b"`. Each returns
-- a line starting with "OK" or raises with what went wrong.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

local me = ...
local CMD = {}

local function map()
  local env = {}
  assert(loadfile(skynet.getenv "cluster", "t", env))()
  return env
end

local function ms_since(t0)
  return (skynet.now() - t0) * 10
end

-- Runs f(...), which must fail with an error containing every plain string in
-- wants. Returns the error.
local function must_fail(wants, f, ...)
  local ok, err = pcall(f, ...)
  if ok then error("expected an error containing " .. table.concat(wants, ", ") .. ", got success", 2) end
  err = tostring(err)
  for _, w in ipairs(wants) do
    if not err:find(w, 1, true) then
      error(string.format("expected an error containing %q, got: %s", w, err), 2)
    end
  end
  return err
end

-- A string of n KiB whose every KiB starts with its own index: a lost,
-- repeated or reordered piece shows.
local function big_string(kib, seed)
  local block = {}
  for i = 1, 1020 do block[i] = string.char((i * 7 + seed) % 256) end
  block = table.concat(block)
  local parts = {}
  for k = 1, kib do parts[k] = string.pack(">I4", k) .. block end
  return table.concat(parts)
end

-- Waits until fn returns true, polling every 5 cs, for at most cs.
local function wait_until(cs, fn)
  local t0 = skynet.now()
  while not fn() do
    if skynet.now() - t0 > cs then return false end
    skynet.sleep(5)
  end
  return true
end

function CMD.whoami() return me end

-- call by handle, by "@name" and ".name"; send then call in order; query.
function CMD.basic(t)
  local h = cluster.query(t, "echo")
  assert(math.type(h) == "integer", "query returned " .. tostring(h))
  local a, b, c = cluster.call(t, h, "echo", 1, "two", { x = 3 })
  assert(a == 1 and b == "two" and c.x == 3, "echo by handle")
  a, b = cluster.call(t, "@echo", "echo", nil, false)
  assert(a == nil and b == false, "echo of nil, false")
  assert(select("#", cluster.call(t, "@echo", "echo")) == 0, "echo of nothing")
  assert(cluster.call(t, ".echo", "whoami") == t, "local name on the remote node")
  cluster.send(t, "@echo", "store", "k", "v-" .. me)
  assert(cluster.call(t, "@echo", "get", "k") == "v-" .. me, "send, then call: in order")
  return "OK basic " .. me .. " -> " .. t
end

-- Errors come back naming the node.
function CMD.errors(t)
  local node = "cluster node [" .. t .. "]"
  must_fail({ node, "cluster name @nosuch is not registered" }, cluster.call, t, "@nosuch", "echo")
  must_fail({ node, "boom-123" }, cluster.call, t, "@echo", "raise", "boom-123")
  must_fail({ node, "cluster name nosuch is not registered" }, cluster.query, t, "nosuch")
  must_fail({ node }, cluster.call, t, ".nosuchlocal", "echo")
  must_fail({ node }, cluster.call, t, 0x00fffff0, "echo")
  -- The link survives all that.
  assert(cluster.call(t, "@echo", "echo", "still") == "still")
  return "OK errors " .. t
end

function CMD.proxy(t)
  local p = cluster.proxy(t, "@echo")
  assert(skynet.call(p, "lua", "whoami") == t, "call through the proxy")
  assert(cluster.proxy(t .. "@echo") == p, "node@name form gives the same proxy")
  skynet.send(p, "lua", "store", "pk", 42)
  assert(skynet.call(p, "lua", "get", "pk") == 42, "send, then call through the proxy")
  local q = cluster.proxy(t, ".echo")
  assert(skynet.call(q, "lua", "echo", "dot") == "dot")
  must_fail({ "perr" }, skynet.call, p, "lua", "raise", "perr")
  return "OK proxy " .. t
end

-- This node calls t, which calls back (or on): nested cross-node calls.
function CMD.relay_to(t, x)
  return cluster.call(t, "@echo", "echo", x)
end

function CMD.relay(via, t)
  local r = cluster.call(via, ".driver", "relay_to", t, "hop-" .. me)
  assert(r == "hop-" .. me, "relay returned " .. tostring(r))
  return "OK relay " .. me .. " -> " .. via .. " -> " .. t
end

-- Names: register on t, query from here, unregister; the registered list.
function CMD.register_self(name)
  cluster.register(name)
  return skynet.self()
end

function CMD.unregister(name)
  cluster.unregister(name)
end

function CMD.names(t)
  local h = cluster.call(t, ".driver", "register_self", "tmp")
  assert(cluster.query(t, "tmp") == h, "query after register")
  assert(cluster.call(t, "@tmp", "whoami") == t, "call by the new name")
  local list = cluster.call(t, ".driver", "registered")
  assert(list.tmp == h and math.type(list.echo) == "integer", "registered list")
  cluster.call(t, ".driver", "unregister", "tmp")
  must_fail({ "not registered" }, cluster.query, t, "tmp")
  must_fail({ "not registered" }, cluster.call, t, "@tmp", "whoami")
  return "OK names " .. t
end

function CMD.registered()
  return (cluster.registered())
end

-- registered(since) waits for the next change (what a registry watches).
function CMD.watch_names()
  local _, v = cluster.registered()
  local got
  skynet.fork(function()
    local names, v2 = cluster.registered(v)
    got = { names, v2 }
  end)
  skynet.sleep(10)
  assert(got == nil, "registered(since) returned before a change")
  local s = skynet.newservice("cluster_echo", "watched")
  cluster.register("watched", s)
  assert(wait_until(100, function() return got end), "no change seen")
  assert(got[2] == v + 1 and got[1].watched == s, "the change seen")
  cluster.unregister("watched")
  assert(cluster.registered().watched == nil)
  skynet.kill(s)
  return "OK watch_names"
end

-- Live map changes on this node: down, back, moved, absent then present,
-- nowaiting, replace, a bad map.
function CMD.reload(t, other)
  local m = map()
  local node = "cluster node [" .. t .. "]"
  assert(cluster.call(t, ".echo", "whoami") == t)
  cluster.reload { [t] = false }
  local t0 = skynet.now()
  must_fail({ node, "is down" }, cluster.call, t, ".echo", "whoami")
  assert(ms_since(t0) < 1000, "down fails at once")
  cluster.reload { [t] = m[t] }
  assert(cluster.call(t, ".echo", "whoami") == t, "back up")
  cluster.reload { [t] = m[other] }
  assert(cluster.call(t, ".echo", "whoami") == other, "moved: the name now reaches " .. other)
  cluster.reload { [t] = m[t] }
  assert(cluster.call(t, ".echo", "whoami") == t, "moved back")

  -- A call in flight when its node's address changes fails at once.
  local result
  skynet.fork(function()
    result = { pcall(cluster.call, t, ".echo", "sleep", 300) }
  end)
  skynet.sleep(20)
  t0 = skynet.now()
  cluster.reload { [t] = m[other] }
  assert(wait_until(100, function() return result end), "the call in flight did not end")
  assert(not result[1] and tostring(result[2]):find("address changed", 1, true), tostring(result[2]))
  assert(ms_since(t0) < 1000, "the call in flight failed at once")
  cluster.reload { [t] = m[t] }
  assert(cluster.call(t, ".echo", "whoami") == t)

  -- An absent node: calls wait for it (skynet's default), a timeout ends them.
  must_fail({ "cluster node [later]", "call timeout" }, cluster.call_timeout, 30, "later", ".echo", "whoami")
  local late
  skynet.fork(function() late = { pcall(cluster.call, "later", ".echo", "whoami") } end)
  skynet.sleep(20)
  assert(late == nil, "a call to an absent node waits")
  cluster.reload { later = m[t] }
  assert(wait_until(200, function() return late end), "the waiting call did not end")
  assert(late[1] and late[2] == t, "the waiting call reached " .. t .. " once it appeared: " .. tostring(late[2]))

  -- __nowaiting: absent nodes fail at once.
  cluster.reload { __nowaiting = true }
  must_fail({ "cluster node [never]", "not in the cluster map" }, cluster.call, "never", ".echo", "whoami")
  cluster.reload { __nowaiting = false }

  -- Replace: names left out are down.
  local all = map()
  cluster.reload(all, true)
  must_fail({ "cluster node [later]", "is down" }, cluster.call, "later", ".echo", "whoami")
  assert(cluster.call(t, ".echo", "whoami") == t)

  -- A bad map changes nothing.
  must_fail({ "bad address" }, cluster.reload, { [t] = false, x = "no-port" })
  assert(cluster.call(t, ".echo", "whoami") == t, "a bad map changed something")
  return "OK reload " .. t
end

-- 1,000 sends arrive in order; a fresh service's first requests keep their order.
function CMD.order(t)
  for i = 1, 1000 do cluster.send(t, "@echo", "append", i) end
  local l = cluster.call(t, "@echo", "list")
  assert(#l == 1000, "got " .. #l .. " of 1000")
  for i = 1, 1000 do
    if l[i] ~= i then error("item " .. i .. " is " .. tostring(l[i])) end
  end
  local fresh = skynet.newservice("cluster_driver", "fresh")
  local r = skynet.call(fresh, "lua", "fresh_order", t)
  skynet.kill(fresh)
  return "OK order " .. t .. "; " .. r
end

function CMD.fresh_order(t)
  -- Sends and a call made before this service knows t's sender, and sends from
  -- another coroutine meanwhile: all reach t in the order made.
  cluster.send(t, "@echo", "append", 1)
  cluster.send(t, "@echo", "append", 2)
  skynet.fork(function()
    cluster.send(t, "@echo", "append", 4)
    cluster.send(t, "@echo", "append", 5)
  end)
  cluster.call(t, "@echo", "append", 3)
  local l = cluster.call(t, "@echo", "list")
  assert(table.concat(l, ",") == "1,2,3,4,5", "order " .. table.concat(l, ","))
  return "first use in order"
end

function CMD.concurrent(t, n)
  local done, bad = 0, 0
  local co = coroutine.running()
  local t0 = skynet.now()
  for i = 1, n do
    skynet.fork(function()
      local ok, r = pcall(cluster.call, t, "@echo", "echo", i)
      if not ok or r ~= i then bad = bad + 1 end
      done = done + 1
      if done == n then skynet.wakeup(co) end
    end)
  end
  skynet.timeout(3000, function() skynet.wakeup(co) end)
  skynet.wait(co)
  assert(done == n and bad == 0, string.format("%d of %d done, %d wrong", done, n, bad))
  return string.format("OK concurrent %d calls to %s in %d ms", n, t, ms_since(t0))
end

function CMD.echo_big(t, kib)
  local s = big_string(kib, 11)
  local t0 = skynet.now()
  local r = cluster.call(t, "@echo", "echo", s)
  local took = ms_since(t0)
  assert(#r == #s, string.format("got %d bytes of %d", #r, #s))
  assert(r == s, "the bytes differ")
  return took
end

-- 10 MiB there and back (request and reply), then t sends 10 MiB here.
function CMD.big(t)
  local took = CMD.echo_big(t, 10 * 1024)
  local back = cluster.call(t, ".driver", "echo_big", me, 10 * 1024)
  return string.format("OK big: 10 MiB %s -> %s -> %s in %d ms, %s -> %s -> %s in %d ms", me, t, me, took, t, me,
    t, back)
end

-- cluster_max_message: this node's limit (1 MiB on c) refuses a larger request
-- before it leaves, and a larger reply is answered with an error; the link stays.
function CMD.make_big(kib)
  return big_string(kib, 3)
end

function CMD.limit(t)
  local two = big_string(2048, 5)
  must_fail({ "cluster node [" .. t .. "]", "over the limit of 1048576" }, cluster.call, t, "@echo", "echo", two)
  cluster.send(t, "@echo", "append", two)  -- dropped here, logged
  cluster.send(t, "@echo", "append", "small")
  local l = cluster.call(t, "@echo", "list")
  assert(#l == 1 and l[1] == "small", "only the small push arrived")
  local half = big_string(512, 6)
  assert(cluster.call(t, "@echo", "echo", half) == half, "under the limit")
  return "OK limit " .. me .. " -> " .. t
end

function CMD.limit_reply(t)
  must_fail({ "cluster node [" .. t .. "]", "the reply of 20971", "bytes is over the limit of 1048576" },
    cluster.call, t, ".driver", "make_big", 2048)
  assert(#cluster.call(t, ".driver", "make_big", 512) == 512 * 1024)
  return "OK limit_reply " .. me .. " -> " .. t
end

-- For the kill/stop tests: one call that must fail; reports how long it took.
function CMD.call_fails(t, timeout, cmd, arg)
  local t0 = skynet.now()
  local ok, err = pcall(cluster.call_timeout, timeout, t, ".echo", cmd, arg)
  if ok then error("the call succeeded: " .. tostring(err)) end
  return string.format("OK failed after %d ms: %s", ms_since(t0), err)
end

-- Calls t until one succeeds (for at most cs); reports the attempts.
function CMD.until_ok(t, cs)
  local t0 = skynet.now()
  local tries, last = 0, nil
  while skynet.now() - t0 < cs do
    tries = tries + 1
    local ok, r = pcall(cluster.call_timeout, 100, t, ".echo", "whoami")
    if ok and r == t then
      return string.format("OK reached %s after %d tries, %d ms", t, tries, ms_since(t0))
    end
    last = r
    skynet.sleep(10)
  end
  error(string.format("could not reach %s in %d cs (%d tries): %s", t, cs, tries, tostring(last)))
end

function CMD.call(t, timeout)
  return "OK " .. tostring(cluster.call_timeout(timeout or 300, t, ".echo", "whoami"))
end

-- Keeps calling t for cs centiseconds; every call must succeed.
function CMD.keep_calling(t, cs)
  local t0, n = skynet.now(), 0
  while skynet.now() - t0 < cs do
    local r = cluster.call_timeout(300, t, ".echo", "echo", n)
    assert(r == n)
    n = n + 1
    skynet.sleep(1)
  end
  return string.format("OK %d calls to %s in %d ms", n, t, ms_since(t0))
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, ...)
    local f = CMD[cmd]
    if not f then error("driver: no command " .. tostring(cmd)) end
    skynet.retpack(f(...))
  end)
end)
