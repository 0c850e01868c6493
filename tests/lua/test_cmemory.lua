local skynet = require "skynet"
local memory = require "skynet.memory"
local t = require "testlib"
t.run("test_cmemory", function()
  t.check(math.type(memory.total()) == "integer" and memory.total() >= 0, "memory.total")
  t.check(math.type(memory.block()) == "integer", "memory.block")
  local n = 0
  for k, v in pairs(memory.info()) do
    t.check(type(k) == "string" and math.type(v) == "integer", "memory.info " .. tostring(k))
    n = n + 1
  end
  t.check(n >= 4, "memory.info has the allocator's figures")
  skynet.newservice("cmemory")  -- logs them and exits; must not raise
end)
