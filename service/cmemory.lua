-- cmemory: logs the process's C heap (the debug console's `cmem`).
local skynet = require "skynet"
local memory = require "skynet.memory"

skynet.start(function()
  local info = memory.info()
  skynet.error(string.format("C memory: %d bytes in use (%d free in %d-byte arena, %d mmapped), %d blocks",
    memory.total(), info.free, info.arena, info.mmapped, memory.block()))
  if skynet.getenv "cmemory_dump" then memory.dumpinfo() end
  skynet.exit()
end)
