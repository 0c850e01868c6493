-- The first Lua service (config: bootstrap = "snlua bootstrap"). It starts the
-- launcher and the service manager, then the `start` service, and exits. If
-- any of them cannot start, the node stops with exit status 1 (skynet would
-- keep running, which leaves scripts and CI hanging).
local skynet = require "skynet"
require "skynet.manager"

local function fatal(what, err)
  skynet.error(string.format("bootstrap: %s failed: %s", what, tostring(err)))
  skynet.abort(1)
end

skynet.start(function()
  local launcher = skynet.launch("snlua", "launcher")
  if not launcher then
    return fatal("launcher", "see the log above")
  end
  skynet.name(".launcher", launcher)

  local ok, err = pcall(skynet.newservice, "service_mgr")
  if not ok then return fatal("service_mgr", err) end

  local start = skynet.getenv "start" or "main"
  ok, err = pcall(skynet.newservice, start)
  if not ok then return fatal("start service " .. start, err) end

  skynet.exit()
end)
