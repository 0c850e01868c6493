-- Deferred answers with skynet.response().
--   defer key        -> keeps the response closure under key, answers later
--   test key         -> answers closure("TEST")
--   release key ...  -> answers what closure(true, ...) returned
--   reject key       -> answers what closure(false) returned
--   twice            -> answers "first" through a closure, then calls the
--                       closure again; the outcome is kept for "twice_result"
--   twice_result     -> answers (pcall ok, error message) of that second call
--   timer key ti ... -> answers from a skynet.timeout callback after ti cs
--   pending          -> answers the number of kept closures
local skynet = require "skynet"

local kept = {}
local twice_ok, twice_err

skynet.start(function()
  skynet.dispatch("lua", function(_, _, cmd, key, ...)
    if cmd == "defer" then
      kept[key] = skynet.response()
    elseif cmd == "test" then
      skynet.retpack(kept[key]("TEST"))
    elseif cmd == "release" then
      local r = kept[key]
      kept[key] = nil
      skynet.retpack(r(true, ...))
    elseif cmd == "reject" then
      local r = kept[key]
      kept[key] = nil
      skynet.retpack(r(false))
    elseif cmd == "twice" then
      local r = skynet.response()
      r(true, "first")
      twice_ok, twice_err = pcall(r, true, "second")
      twice_err = tostring(twice_err)
    elseif cmd == "twice_result" then
      skynet.retpack(twice_ok, twice_err)
    elseif cmd == "timer" then
      local r = skynet.response()
      local ti = ...
      local args = table.pack(select(2, ...))
      skynet.timeout(ti, function()
        r(true, table.unpack(args, 1, args.n))
      end)
    elseif cmd == "pending" then
      local n = 0
      for _ in pairs(kept) do n = n + 1 end
      skynet.retpack(n)
    else
      error("t_resp: unknown command " .. tostring(cmd))
    end
  end)
end)
