-- cmemory: logs the process's C heap (the debug console's `cmem`): bytes in
-- use, then the allocator's own figures (jemalloc's, or glibc's in sanitizer
-- builds).
local skynet = require "skynet"
local memory = require "skynet.memory"

skynet.start(function()
  local info = memory.info()
  local keys = {}
  for k in pairs(info) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = string.format("%s %d", k, info[k]) end
  skynet.error(string.format("C memory: %d bytes in use, block %d (%s)", memory.total(), memory.block(),
    table.concat(parts, ", ")))
  if skynet.getenv "cmemory_dump" then memory.dumpinfo() end
  skynet.exit()
end)
