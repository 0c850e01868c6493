-- skynet.uniqueservice from many services at the same time starts one
-- instance; skynet.queryservice finds it.
local skynet = require "skynet"
local t = require "testlib"

t.run("test_uniqueservice", function()
  -- this service counts the starts of t_unique
  local starts = {}
  skynet.dispatch("lua", function(_, _, cmd, addr)
    if cmd == "unique_started" then
      starts[#starts + 1] = addr
    end
  end)

  local clients = {}
  for i = 1, 10 do clients[i] = skynet.newservice("t_uclient") end

  -- all ten ask at the same time
  local fns = {}
  for i = 1, 10 do
    fns[i] = function() return skynet.call(clients[i], "lua", "go", skynet.self()) end
  end
  local res = t.parallel(fns)
  local addr
  for i = 1, 10 do
    t.eq(res[i][1], true, "client " .. i .. " succeeded: " .. tostring(res[i][2]))
    local a, tag, self_of_unique = res[i][2], res[i][3], res[i][4]
    t.eq(math.type(a), "integer", "client " .. i .. " got an address")
    addr = addr or a
    t.eq(a, addr, "client " .. i .. " got the same address")
    t.eq(tag, "unique", "client " .. i .. " reached t_unique")
    t.eq(self_of_unique, a, "address is t_unique's own")
  end

  skynet.sleep(5)
  t.eq(#starts, 1, "t_unique started exactly once")
  t.eq(starts[1], addr, "the started instance is the returned one")

  -- queryservice finds it; a later uniqueservice returns it without a new start
  t.eq(skynet.queryservice("t_unique"), addr, "queryservice")
  t.eq(skynet.uniqueservice("t_unique", skynet.self()), addr, "uniqueservice again")
  local _, _, hellos = skynet.call(addr, "lua", "hello")
  t.eq(hellos, 11, "ten clients and us said hello to one instance")
  skynet.sleep(2)
  t.eq(#starts, 1, "still started once")

  -- a different name is a different service
  local other = skynet.uniqueservice("t_echo")
  t.check(other ~= addr, "another unique service has another address")
  t.eq(skynet.uniqueservice("t_echo"), other, "t_echo unique instance is stable")
  t.eq(skynet.queryservice("t_echo"), other, "queryservice t_echo")
end)
