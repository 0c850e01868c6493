-- clusterproxy NODE ADDRESS SENDER: a local stand-in for a service of another node
-- (cluster.proxy). Lua messages sent or called to it go to ADDRESS on NODE
-- (a handle, ".name" or "@name") through the node's sender (clusterd passes it),
-- without being unpacked here; replies come back the same way.
local skynet = require "skynet"
require "skynet.manager"  -- skynet.forward_type

local node, address, sender = ...
sender = tonumber(sender)

skynet.register_protocol {
  name = "system",
  id = skynet.PTYPE_SYSTEM,
  unpack = function(...) return ... end,
}

-- Lua requests arrive as "system" with their bytes ours to pass on; replies
-- keep their bytes too, for skynet.ret to pass them back without a copy.
local forward_map = {
  [skynet.PTYPE_LUA] = skynet.PTYPE_SYSTEM,
  [skynet.PTYPE_RESPONSE] = skynet.PTYPE_RESPONSE,
}

skynet.forward_type(forward_map, function()
  address = tonumber(address) or address
  skynet.dispatch("system", function(session, _, msg, sz)
    if session == 0 then
      skynet.send(sender, "lua", "push", address, msg, sz)
    else
      local ok, rmsg, rsz = pcall(skynet.rawcall, sender, "lua", skynet.pack("req", address, msg, sz))
      if ok then
        skynet.ret(rmsg, rsz)
      else
        skynet.response()(false, rmsg)
      end
    end
  end)
end)
