-- A web example agent: serves the connections main.lua hands it, with
-- keep-alive, one coroutine per connection.
--   GET  /           a greeting
--   GET  /echo?x=1   the query parameters and the request headers, one per line
--   POST /post       the request body back, with its Content-Type
--   GET  /ws         a WebSocket echo (text and binary)
local skynet = require "skynet"
local socket = require "skynet.socket"
local httpd = require "http.httpd"
local sockethelper = require "http.sockethelper"
local urllib = require "http.url"
local websocket = require "http.websocket"

local BODY_LIMIT = 64 * 1024

local ws_handle = {}
function ws_handle.message(id, msg, op)
  websocket.write(id, msg, op)
end

local function sorted_lines(t, fmt)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "table" then v = table.concat(v, ", ") end
    out[#out + 1] = string.format(fmt, k, v)
  end
  return table.concat(out)
end

local routes = {}

routes["/"] = function(write)
  return httpd.write_response(write, 200, "Hello from tern!\n", { ["content-type"] = "text/plain" })
end

routes["/echo"] = function(write, _, query, header)
  local text = "query:\n" .. sorted_lines(urllib.parse_query(query), "  %s=%s\n") ..
    "headers:\n" .. sorted_lines(header, "  %s: %s\n")
  return httpd.write_response(write, 200, text, { ["content-type"] = "text/plain" })
end

routes["/post"] = function(write, method, _, header, body)
  if method ~= "POST" then
    return httpd.write_response(write, 405, "POST only\n", { allow = "POST" })
  end
  return httpd.write_response(write, 200, body,
    { ["content-type"] = header["content-type"] or "application/octet-stream" })
end

local function serve(id, addr)
  socket.start(id)
  local read, write = sockethelper.readfunc(id), sockethelper.writefunc(id)
  while true do
    local code, target, method, header, body = httpd.read_request(read, BODY_LIMIT)
    if not code then
      if target ~= sockethelper.socket_error then skynet.error("web: " .. tostring(target)) end
      break
    end
    if code ~= 200 then
      httpd.write_response(write, code)
      break
    end
    local path, query = urllib.parse(target)
    if path == "/ws" and header.upgrade and header.upgrade:lower() == "websocket" then
      -- websocket.accept runs the connection to its end and closes it
      websocket.accept(id, ws_handle, "ws", addr, { upgrade = { header = header, method = method, url = target } })
      return
    end
    local route = routes[path]
    if route then
      route(write, method, query, header, body)
    else
      httpd.write_response(write, 404, "not found: " .. path .. "\n", { ["content-type"] = "text/plain" })
    end
    local connection = header.connection
    if type(connection) == "string" and connection:lower() == "close" then break end
  end
  socket.close(id)
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, id, addr)
    serve(id, addr)  -- each message has its own coroutine: connections run side by side
  end)
end)
