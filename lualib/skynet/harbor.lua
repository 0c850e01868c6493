-- skynet.harbor: global names and harbor links in harbor (master/slave) mode.
-- Every function talks to .cslave (service/cslave.lua); see docs/harbor.md.
local skynet = require "skynet"

local harbor = {}

local slave
local function cslave()
  if not slave then
    slave = skynet.localname(".cslave")
    if not slave then
      error("no harbor in this node (harbor = 0, or no master/standalone in the config)", 3)
    end
  end
  return slave
end

-- A global name: 1..32 bytes, no spaces, not starting with '.' or ':', not a number.
function harbor.checkname(name)
  if type(name) ~= "string" or #name == 0 or #name > 32 or name:find("[%s%c]")
      or name:find("^[.:]") or tonumber(name) then
    error("invalid global name: " .. tostring(name), 3)
  end
end

-- Registers name -> handle (default: the caller) on every node, through the master.
function harbor.globalname(name, handle)
  harbor.checkname(name)
  handle = handle or skynet.self()
  skynet.send(cslave(), "lua", "REGISTER", name, handle)
end

-- The handle of a global (or ".local") name; waits until the master knows it.
function harbor.queryname(name)
  return skynet.call(cslave(), "lua", "QUERYNAME", name)
end

-- Returns when the link to harbor id goes down (at once if it is not linked).
function harbor.link(id)
  skynet.call(cslave(), "lua", "LINK", id)
end

-- Returns when harbor id is linked (true), or known to be down (false).
function harbor.connect(id)
  return skynet.call(cslave(), "lua", "CONNECT", id)
end

-- Returns when the link to the master goes down.
function harbor.linkmaster()
  skynet.call(cslave(), "lua", "LINKMASTER")
end

return harbor
