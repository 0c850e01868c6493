-- Start service of the net_faults node: a debug console, a Lua gate under a
-- watchdog (echo agents), and a skynet.socket service (faults_echo) whose
-- first line per connection picks what it does. Mode "echo": faults_echo only.
local skynet = require "skynet"

skynet.start(function()
  local mode = skynet.getenv "faults_mode" or "full"
  local echo_port = assert(tonumber(skynet.getenv "echo_port"))
  if mode == "full" then
    skynet.newservice("debug_console", "127.0.0.1", assert(tonumber(skynet.getenv "console_port")))
    local watchdog = skynet.newservice("faults_watchdog")
    skynet.call(watchdog, "lua", "start", {
      address = "127.0.0.1", port = assert(tonumber(skynet.getenv "gate_port")),
      maxclient = 64, maxpacket = 1024, nodelay = true,
    })
  end
  skynet.newservice("faults_echo", echo_port)
  skynet.error("faults: node ready (mode " .. mode .. ")")
  skynet.exit()
end)
