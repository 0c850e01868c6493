-- An agent of bench/http/skynet_httpd: serves each connection it is handed
-- (one coroutine per connection) with http.httpd, keep-alive, until the
-- client closes or asks to.
local skynet = require "skynet"
local socket = require "skynet.socket"
local driver = require "skynet.socketdriver"
local httpd = require "http.httpd"
local sockethelper = require "http.sockethelper"

local BODY = "Hello, World!"
local HEADER = { ["content-type"] = "text/plain" }

local function serve(id)
  socket.start(id)
  driver.nodelay(id)
  local read, write = sockethelper.readfunc(id), sockethelper.writefunc(id)
  while true do
    local code, _, _, header = httpd.read_request(read, 8192)
    if code ~= 200 then
      if code then httpd.write_response(write, code) end
      break
    end
    if not httpd.write_response(write, 200, BODY, HEADER) then break end
    local connection = header.connection
    if connection and type(connection) == "string" and connection:lower() == "close" then break end
  end
  socket.close(id)
end

skynet.start(function()
  skynet.dispatch("lua", function(_, _, id)
    serve(id)
  end)
end)
