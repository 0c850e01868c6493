-- socketdriver's read buffer on its own (no network): chunks pushed as
-- lightuserdata (str2p) are popped by size, by separator (also one split
-- across chunks), all at once, and cleared; header() decodes big-endian sizes.
local driver = require "skynet.socketdriver"
local t = require "testlib"

local function push(b, s)
  local p, n = driver.str2p(s)
  return driver.push(b, {}, p, n)
end

t.run("test_socket_buffer", function()
  local pool = {}
  local b = driver.buffer()
  t.eq(push(b, "hello wo"), 8, "size after push")
  t.eq(push(b, "rld\r"), 12, "size after second push")
  push(b, "\nsecond line\r")
  push(b, "")  -- an empty chunk is ignored
  push(b, "\nlast")
  t.eq(driver.pop(b, pool, 100), nil, "pop more than buffered")
  local s, left = driver.pop(b, pool, 5)
  t.eq(s, "hello", "pop 5")
  t.eq(left, 25, "left after pop")
  t.eq(driver.readline(b, nil, "\r\n"), true, "readline check only")
  t.eq(driver.readline(b, pool, "\r\n"), " world", "line across chunks")
  t.eq(driver.readline(b, pool, "\r\n"), "second line", "sep split across chunks")
  t.eq(driver.readline(b, pool, "\r\n"), nil, "no more lines")
  t.eq(driver.readline(b, pool, "st"), "la", "multi-char sep inside a chunk")
  t.eq(driver.readall(b, pool), "", "readall of an empty buffer")
  -- many small chunks grow the ring; pop across all of them
  local parts = {}
  for i = 1, 100 do
    parts[i] = string.format("%03d", i)
    push(b, parts[i])
  end
  t.eq(driver.pop(b, pool, 3), "001", "pop first chunk")
  t.eq(driver.pop(b, pool, 6), "002003", "pop two chunks")
  t.eq(driver.pop(b, pool, 4), "0040", "pop part of a chunk")
  t.eq(driver.readall(b, pool), "05" .. table.concat(parts, "", 6), "readall the rest")
  push(b, "dropped by clear")
  driver.clear(b, pool)
  t.eq(driver.readall(b, pool), "", "clear")
  driver.clear(nil)  -- allowed
  push(b, "left for the garbage collector")
  b = nil
  collectgarbage()

  t.eq(driver.header("\1\2"), 258, "header 2 bytes")
  t.eq(driver.header("\0\0\1\0"), 256, "header 4 bytes")
  t.eq(pcall(driver.header, ""), false, "header of nothing")
  t.eq(pcall(driver.readline, {}, pool, "\n"), false, "not a buffer")
end)
