local skynet = require "skynet"
local t = require "testlib"
t.run("test_endless", function()
  local h = skynet.newservice("t_echo")
  skynet.send(h, "lua", "loop")
  local answer
  for _ = 1, 40 do
    local ok, r = pcall(skynet.call_timeout, 25, h, "lua", "echo", "back")
    if ok then answer = r break end
  end
  t.eq(answer, "back", "answers after the loop was interrupted")
end)
