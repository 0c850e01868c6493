-- The room: who is in it, and broadcasting what they say.
local skynet = require "skynet"

local members = {}  -- agent -> nick

local function broadcast(line)
  for agent in pairs(members) do skynet.send(agent, "lua", "deliver", line) end
end

local commands = {}

function commands.join(agent, nick)
  members[agent] = nick
  broadcast("* " .. nick .. " joined")
end

function commands.leave(agent)
  local nick = members[agent]
  members[agent] = nil
  if nick then broadcast("* " .. nick .. " left") end
end

function commands.rename(agent, nick)
  local old = members[agent]
  if not old then return end
  members[agent] = nick
  broadcast("* " .. old .. " is now " .. nick)
end

function commands.say(nick, text)
  broadcast(nick .. ": " .. text)
end

function commands.who()
  local list = {}
  for _, nick in pairs(members) do list[#list + 1] = nick end
  table.sort(list)
  return list
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
