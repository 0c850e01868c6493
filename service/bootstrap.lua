-- The first Lua service (config: bootstrap = "snlua bootstrap"). It starts the
-- launcher, in harbor mode cmaster (if standalone) and cslave, the service
-- manager, then the `start` service, and exits. If
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

  -- Harbor (master/slave) mode: a harbor id and a master (docs/harbor.md).
  -- harbor = 0, or no master/standalone, is a single node.
  local harbor_id = tonumber(skynet.getenv "harbor" or 0)
  local standalone = skynet.getenv "standalone"
  if harbor_id ~= 0 and (standalone or skynet.getenv "master") then
    if standalone then
      local ok, err = pcall(skynet.newservice, "cmaster")
      if not ok then return fatal("cmaster", err) end
    end
    local ok, slave = pcall(skynet.newservice, "cslave")
    if not ok then return fatal("cslave", slave) end
    skynet.name(".cslave", slave)
  end

  local ok, err = pcall(skynet.newservice, "service_mgr")
  if not ok then return fatal("service_mgr", err) end

  local start = skynet.getenv "start" or "main"
  ok, err = pcall(skynet.newservice, start)
  if not ok then return fatal("start service " .. start, err) end

  skynet.exit()
end)
