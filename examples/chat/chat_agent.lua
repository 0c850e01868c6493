-- One client's agent. Packets from the client are text lines:
--   "/nick NAME" renames, "/who" lists the room, "/quit" leaves, anything else is said.
local skynet = require "skynet"
local socket = require "skynet.socket"

local conf  -- gate, client fd, watchdog, room, addr
local nick

local function send_client(text)
  socket.write(conf.client, string.pack(">s2", text))
end

local function on_packet(text)
  local cmd, arg = text:match("^/(%a+)%s*(.*)$")
  if cmd == "nick" and arg ~= "" then
    nick = arg
    skynet.send(conf.room, "lua", "rename", skynet.self(), nick)
  elseif cmd == "who" then
    send_client("in the room: " .. table.concat(skynet.call(conf.room, "lua", "who"), ", "))
  elseif cmd == "quit" then
    send_client("bye")
    skynet.send(conf.watchdog, "lua", "close", conf.client)
  else
    skynet.send(conf.room, "lua", "say", nick, text)
  end
end

skynet.register_protocol {
  name = "client",
  id = skynet.PTYPE_CLIENT,
  unpack = skynet.tostring,
  dispatch = function(_, _, text) on_packet(text) end,
}

local commands = {}

function commands.start(c)
  conf = c
  nick = "guest" .. c.client
  skynet.call(conf.gate, "lua", "forward", conf.client)
  skynet.call(conf.room, "lua", "join", skynet.self(), nick)
  send_client("welcome " .. nick .. "; /nick NAME, /who, /quit")
end

function commands.deliver(line) send_client(line) end

function commands.disconnect()
  skynet.call(conf.room, "lua", "leave", skynet.self())
  skynet.exit()
end

skynet.start(function()
  skynet.dispatch("lua", function(session, _, cmd, ...)
    local f = assert(commands[cmd], cmd)
    if session == 0 then
      f(...)
    else
      skynet.ret(skynet.pack(f(...)))
    end
  end)
end)
