-- A tern-server script exercising the Http/WebSocket Lua API; driven by
-- lua_http_test.sh through http_check.py.
-- arg[1]: port, arg[2]: "process" or "base", arg[3]: "http" or "websocket".
local server = require "tern.server"

local port = tonumber(arg[1])
local mode = arg[2] == "base" and server.BASE or server.PROCESS
local s = (arg[3] == "websocket" and server.websocket or server.http)("127.0.0.1", port, mode)
s:set { worker_num = 2 }

local ticks = 0  -- per worker: a tick timer that clears itself after 3 runs
local kept = {}  -- responses answered later, by an after() timer

s:on("WorkerStart", function(s, worker_id)
  s:tick(20, function(s, id)
    ticks = ticks + 1
    if ticks == 3 then s:clearTimer(id) end
  end)
end)

-- "k=v" pairs of a table, sorted, or "nil".
local function pairs_text(t)
  if t == nil then return "nil" end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. t[k] end
  return table.concat(out, " ")
end

local routes = {}

routes["/hello"] = function(req, resp)
  resp:header("Content-Type", "text/plain")
  resp:done(string.format("get %s | post %s | cookie %s | files %s | %s %s fd=%d",
    pairs_text(req.get), pairs_text(req.post), pairs_text(req.cookie), pairs_text(req.files),
    req:getMethod(), req.server.request_uri, req.fd))
end

routes["/form"] = function(req, resp)
  resp:done("post " .. pairs_text(req.post) .. " | raw " .. req:rawContent())
end

routes["/cookie"] = function(req, resp)
  resp:cookie("seen", "yes", 0, "/", "", false, true, "Lax")
  resp["end"](resp, "cookie " .. pairs_text(req.cookie))
end

routes["/stream"] = function(req, resp)
  resp:write("one,")
  resp:write("two,")
  resp:done("three")
end

routes["/later"] = function(req, resp)
  kept[resp] = true
  s:after(100, function(s, timer_id)
    kept[resp] = nil
    resp:done("late " .. tostring(resp:isWritable()) .. " timer " .. timer_id)
  end)
end

routes["/drop"] = function(req, resp)
  -- neither ended nor kept: collected, then ended with 500
end

routes["/boom"] = function(req, resp)
  error("boom requested")
end

routes["/ticks"] = function(req, resp)
  resp:done("ticks " .. ticks)
end

routes["/redirect"] = function(req, resp)
  resp:redirect("/hello", 301)
end

routes["/ended"] = function(req, resp)
  resp:done("first")
  resp:done(tostring(resp:write("x")) .. " " .. tostring(resp:isWritable()))  -- both refused
end

s:on("Request", function(req, resp)
  local route = routes[req.server.path_info or req.server.request_uri]
  if route then return route(req, resp) end
  resp:status(404)
  resp:done("no route " .. req.server.request_uri)
end)

if arg[3] == "websocket" then
  s:on("HandShake", function(req, resp)
    if req.server.request_uri == "/deny" then
      resp:status(403)
      resp:done("denied")
      return false
    end
    resp:status(101)
    resp:header("Upgrade", "websocket")
    resp:header("Connection", "Upgrade")
    resp:header("Sec-WebSocket-Accept", server.websocketAcceptKey(req.header["sec-websocket-key"]))
    resp:done()
    return true
  end)

  s:on("Open", function(s, req)
    s:push(req.fd, "welcome " .. req.server.request_uri)
  end)

  s:on("Message", function(s, frame)
    if frame.data == "close me" then
      s:disconnect(frame.fd, 4000, "bye")
    elseif frame.data == "established?" then
      s:push(frame.fd, tostring(s:isEstablished(frame.fd)) .. " " .. tostring(s:isEstablished(frame.fd + 100000)))
    else
      s:push(frame.fd, frame.data, frame.opcode)
    end
  end)
end

s:start()
