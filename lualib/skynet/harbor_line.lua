-- The master/slave protocol of harbor mode: one message per line, words
-- separated by spaces (docs/harbor.md). Shared by cmaster and cslave.
local socket = require "skynet.socket"

local M = {}

M.MAX_LINE = 1024        -- a longer line is a protocol error
M.MAX_UNREAD = 65536     -- unread bytes past this close the connection (no newline flood)

function M.send(fd, ...)
  return socket.write(fd, table.concat({ ... }, " ") .. "\n")
end

-- The next line as a list of words, or nil and why.
function M.read(fd)
  local line = socket.readline(fd)
  if not line then return nil, "connection closed" end
  if #line > M.MAX_LINE then return nil, "line of " .. #line .. " bytes (max " .. M.MAX_LINE .. ")" end
  if line:find("[%c\128-\255]") then return nil, "control or non-ASCII bytes in a line" end
  local words = {}
  for w in line:gmatch("[^ ]+") do words[#words + 1] = w end
  if #words == 0 then return nil, "empty line" end
  return words
end

local function integer(s, min, max)
  if type(s) ~= "string" or not s:match("^%d+$") or #s > 10 then return nil end
  local n = math.tointeger(tonumber(s))
  if n and n >= min and n <= max then return n end
end

function M.harbor_id(s) return integer(s, 1, 255) end
function M.handle(s) return integer(s, 1, 0xffffffff) end

function M.name(s)
  if type(s) == "string" and #s >= 1 and #s <= 32 and not s:find("^[.:]") and not tonumber(s) then
    return s
  end
end

function M.address(s)
  if type(s) == "string" and #s <= 256 and s:match("^[%w%.%-_%[%]:]+:%d+$") then return s end
end

-- "host:port", ":port" or "port" -> "host:port" (host 127.0.0.1 when missing).
function M.normalize(addr)
  if addr == nil then return nil end
  addr = tostring(addr)
  if addr:match("^%d+$") then return "127.0.0.1:" .. addr end
  if addr:match("^:%d+$") then return "127.0.0.1" .. addr end
  return addr
end

-- The part of a listening address to connect to (0.0.0.0 -> 127.0.0.1).
function M.connectable(addr)
  return (addr:gsub("^0%.0%.0%.0:", "127.0.0.1:"))
end

return M
