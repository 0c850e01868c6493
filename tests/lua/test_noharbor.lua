-- A single node (harbor = 1 with no master): harbor mode is off, and what
-- needs it fails with a clear error instead of hanging.
local skynet = require "skynet"
require "skynet.manager"
local harbor = require "skynet.harbor"
local t = require "testlib"
t.run("test_noharbor", function()
  t.eq(skynet.localname(".cslave"), nil, "no cslave without a master")
  local ok, err = pcall(skynet.register, "GLOBAL")
  t.eq(ok, false, "a global name is refused")
  t.check(tostring(err):find("no harbor in this node", 1, true), "with the reason: " .. tostring(err))
  ok, err = pcall(harbor.queryname, "GLOBAL")
  t.check(not ok and tostring(err):find("no harbor in this node", 1, true), "queryname: " .. tostring(err))
  -- a send to another harbor's handle is refused at once (the core logs why)
  ok, err = pcall(skynet.call, (5 << 24) | 1, "lua", "x")
  t.check(not ok and tostring(err):find("call to invalid address", 1, true), "remote call: " .. tostring(err))
  t.eq(skynet.send("NOSUCHGLOBAL", "lua", 1), nil, "a send to an unknown global name fails")
end)
