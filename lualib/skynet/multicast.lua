-- skynet.multicast: publish/subscribe channels, kept by the multicastd
-- service, which relays each publication to the subscribers as a message of
-- the multicast protocol with the publisher as source.
local skynet = require "skynet"

local multicast = {}
local channels = setmetatable({}, { __mode = "v" })  -- id -> subscribed channel object
local channel = {}
local channel_meta = { __index = channel }

local function center()
  return skynet.uniqueservice "multicastd"
end

-- conf: nil for a new channel, or { channel = id, dispatch = f(ch, source, ...),
-- pack = f, unpack = f } to bind to an existing one.
function multicast.new(conf)
  conf = conf or {}
  local self = setmetatable({
    channel = conf.channel or skynet.call(center(), "lua", "NEW"),
    __pack = conf.pack or skynet.packstring,
    __unpack = conf.unpack or skynet.unpack,
    __dispatch = conf.dispatch,
  }, channel_meta)
  return self
end

function channel:publish(...)
  skynet.send(center(), "lua", "PUB", self.channel, self.__pack(...))
end

function channel:subscribe()
  assert(self.__dispatch, "subscribe needs a dispatch function")
  channels[self.channel] = self
  skynet.call(center(), "lua", "SUB", self.channel)
end

function channel:unsubscribe()
  channels[self.channel] = nil
  skynet.call(center(), "lua", "USUB", self.channel)
end

function channel:delete()
  channels[self.channel] = nil
  skynet.send(center(), "lua", "DEL", self.channel)
end

skynet.register_protocol {
  name = "multicast",
  id = skynet.PTYPE_MULTICAST,
  unpack = skynet.unpack,
  dispatch = function(_, source, id, payload)
    local ch = channels[id]
    if ch then
      ch.__dispatch(ch, source, ch.__unpack(payload))
    end
  end,
}

return multicast
