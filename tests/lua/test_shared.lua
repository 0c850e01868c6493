local skynet = require "skynet"
local t = require "testlib"
local datacenter = require "skynet.datacenter"
local mc = require "skynet.multicast"
local sharedata = require "skynet.sharedata"
t.run("test_shared", function()
  -- datacenter: set/get by path, wait until set
  local waited
  skynet.fork(function() waited = datacenter.wait("game", "port") end)
  skynet.yield()
  datacenter.set("game", "port", 8888)
  t.eq(datacenter.get("game", "port"), 8888, "datacenter get")
  skynet.sleep(1)
  t.eq(waited, 8888, "datacenter wait")
  -- multicast: two subscribers get every publication, in order
  local ch = mc.new()
  local a, b = skynet.newservice("t_sub"), skynet.newservice("t_sub")
  skynet.call(a, "lua", "sub", ch.channel)
  skynet.call(b, "lua", "sub", ch.channel)
  ch:publish("one", 1)
  ch:publish("two", 2)
  skynet.sleep(2)
  for _, s in ipairs { a, b } do
    t.eq(table.concat(skynet.call(s, "lua", "got"), ","), "one 1,two 2", "multicast")
  end
  -- sharedata: query follows update
  sharedata.new("cfg", { level = 1, items = { "a", "b" } })
  local cfg = sharedata.query("cfg")
  t.eq(cfg.level, 1, "sharedata value")
  t.eq(cfg.items[2], "b", "sharedata nested")
  t.eq(pcall(function() cfg.level = 2 end), false, "sharedata is read-only")
  sharedata.update("cfg", { level = 2, items = {} })
  skynet.sleep(2)
  t.eq(cfg.level, 2, "sharedata update seen")
  t.eq(#cfg.items, 0, "sharedata nested update seen")
end)
