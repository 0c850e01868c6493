-- A service with an 8 MiB memory limit (set before skynet.start, as skynet
-- requires).
--   eat_table  -> grows a table of strings until allocation fails (in pcall);
--                 answers (pcall ok, error message)
--   eat_string -> builds one 16 MiB string (in pcall); answers (ok, message)
--   ping       -> answers "alive"
--   mem        -> answers collectgarbage("count") in KiB after a full GC
local skynet = require "skynet"

skynet.memlimit(8 * 1024 * 1024)

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd)
    if cmd == "eat_table" then
      local ok, err = pcall(function()
        local hog = {}
        for i = 1, 100000000 do
          hog[i] = string.rep("x", 100) .. i
        end
        return #hog
      end)
      collectgarbage()
      skynet.retpack(ok, tostring(err))
    elseif cmd == "eat_string" then
      local ok, err = pcall(string.rep, "y", 16 * 1024 * 1024)
      if ok then err = "got a string of " .. #err .. " bytes" end
      collectgarbage()
      skynet.retpack(ok, tostring(err))
    elseif cmd == "ping" then
      skynet.retpack("alive")
    elseif cmd == "mem" then
      collectgarbage()
      skynet.retpack(collectgarbage("count"))
    else
      error("t_memlimit: unknown command " .. tostring(cmd))
    end
  end)
end)
