-- A small chat lobby on tern (the default `make run` node): a gate frames the
-- clients' packets (2-byte big-endian length), a watchdog gives every client an
-- agent, the agents talk to one room service. A debug console listens too.
local skynet = require "skynet"

skynet.start(function()
  local chat_port = tonumber(skynet.getenv "chat_port" or 8888)
  local console_port = tonumber(skynet.getenv "console_port" or 8000)
  skynet.newservice("debug_console", "127.0.0.1", console_port)
  local watchdog = skynet.newservice("chat_watchdog")
  skynet.call(watchdog, "lua", "start", { address = "127.0.0.1", port = chat_port, maxclient = 1024 })
  skynet.error(string.format("chat lobby on 127.0.0.1:%d (python3 examples/chat/client.py %d), "
    .. "debug console on 127.0.0.1:%d (nc 127.0.0.1 %d, then: help)", chat_port, chat_port,
    console_port, console_port))
  skynet.exit()
end)
