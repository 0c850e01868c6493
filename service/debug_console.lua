-- The debug console (skynet's debug_console): a line protocol over TCP for
-- inspecting and steering a running node. Launched as
--   skynet.newservice("debug_console", [ip,] port)
-- and listening on 127.0.0.1 unless an address is given. Each command's output
-- is a set of "key<TAB>value" lines ended by "<CMD OK>", or an error message
-- ended by "<CMD Error>". A first line "GET /cmd/arg HTTP/1.x" is answered
-- once over HTTP instead, so `curl http://127.0.0.1:PORT/list` works too.
local skynet = require "skynet"
local core = require "skynet.core"
local socket = require "skynet.socket"

local args = table.pack(...)
local ip = args.n >= 2 and args[1] or "127.0.0.1"
local port = assert(tonumber(args[args.n]), "debug_console: need a port")

local commands = {}       -- name -> function(...) returning a string, a table, or nothing
local raw_commands = {}   -- name -> function(words, line, fd): gets the whole line

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function one_line(value)
  if type(value) ~= "table" then return tostring(value) end
  local parts = {}
  for _, k in ipairs(sorted_keys(value)) do
    parts[#parts + 1] = tostring(k) .. ":" .. tostring(value[k])
  end
  return table.concat(parts, "\t")
end

local function output(write, result)
  if result == nil then return end
  if type(result) ~= "table" then
    write(tostring(result))
    return
  end
  for _, k in ipairs(sorted_keys(result)) do
    write(tostring(k) .. "\t" .. one_line(result[k]))
  end
end

local function run(line, write, fd)
  local words = {}
  for w in line:gmatch("%S+") do words[#words + 1] = w end
  local name = words[1]
  local ok, result
  if commands[name] then
    ok, result = pcall(commands[name], table.unpack(words, 2))
  elseif raw_commands[name] then
    ok, result = pcall(raw_commands[name], words, line, fd)
  else
    write("Invalid command, type help for command list")
    return
  end
  if ok then
    output(write, result)
    write("<CMD OK>")
  else
    write(tostring(result))
    write("<CMD Error>")
  end
end

-- "GET /list HTTP/1.1": skip the headers, answer with the command's output.
local function serve_http(fd, request_line)
  local path = request_line:match("^GET%s+(%S+)") or "/"
  repeat
    local header = socket.readline(fd, "\n")
  until not header or header == "" or header == "\r"
  local lines = {}
  run(path:sub(2):gsub("/", " "), function(s) lines[#lines + 1] = s end, fd)
  local body = table.concat(lines, "\n") .. "\n"
  socket.write(fd, string.format(
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
    #body, body))
end

local function session(fd, addr)
  local function write(s) socket.write(fd, s .. "\n") end
  write("Welcome to skynet console")
  skynet.error(string.format("debug console: %s connected", addr))
  local ok, err = pcall(function()
    while true do
      local line = socket.readline(fd, "\n")
      if not line then break end
      line = line:gsub("\r$", "")
      if line:sub(1, 4) == "GET " then
        serve_http(fd, line)
        break
      end
      if line:match("%S") then run(line, write, fd) end
    end
  end)
  if not ok then skynet.error("debug console: " .. tostring(err)) end
  skynet.error(string.format("debug console: %s disconnected", addr))
  socket.close(fd)
end

skynet.start(function()
  local listen_id, _, bound = socket.listen(ip, port)
  skynet.error(string.format("Start debug console at %s:%d", ip, bound or port))
  socket.start(listen_id, function(fd, addr)
    socket.start(fd)
    skynet.fork(session, fd, addr)
  end)
end)

-- An address typed by a person: ":0100000a", ".name", or hex digits of the local id.
local function address_of(text)
  assert(text, "need an address")
  local first = text:sub(1, 1)
  if first == "." then
    return assert(skynet.localname(text), "no service named " .. text)
  elseif first == ":" then
    return assert(tonumber(text:sub(2), 16), "bad address " .. text)
  end
  local id = assert(tonumber(text, 16), "bad address " .. text)
  return id | (skynet.harbor(skynet.self()) << 24)
end

function commands.help()
  return {
    help = "This help message",
    list = "List all the service",
    stat = "Dump all stats",
    info = "info address : get service infomation",
    exit = "exit address : kill a lua service",
    kill = "kill address : kill service",
    mem = "mem : show memory status",
    cmem = "Show C memory info",
    gc = "gc : force every lua service do garbage collect",
    start = "lanuch a new lua service",
    service = "List unique service",
    task = "task address : show service task detail",
    inject = "inject address luascript.lua",
    logon = "logon address",
    logoff = "logoff address",
    log = "launch a new lua service with log",
    signal = "signal address sig",
    ping = "ping address",
    call = "call address ...",
    netstat = "netstat : show netstat",
  }
end

function commands.list() return skynet.call(".launcher", "lua", "LIST") end
function commands.stat() return skynet.call(".launcher", "lua", "STAT") end
function commands.mem() return skynet.call(".launcher", "lua", "MEM") end
function commands.gc() return skynet.call(".launcher", "lua", "GC") end
function commands.kill(address) return skynet.call(".launcher", "lua", "KILL", address) end
function commands.service() return skynet.call(".service", "lua", "LIST") end

local function launched(ok, addr, ...)
  if not ok then return "Failed" end
  if not addr then return "Exit" end
  return { [skynet.address(addr)] = table.concat({ ... }, " ") }
end

function commands.start(...)
  return launched(pcall(skynet.newservice, ...), ...)
end

function commands.log(...)
  return launched(pcall(skynet.call, ".launcher", "lua", "LOGLAUNCH", "snlua", ...), ...)
end

function commands.exit(address)
  skynet.send(address_of(address), "debug", "EXIT")
end

function commands.info(address, ...)
  return skynet.call(address_of(address), "debug", "INFO", ...)
end

function commands.task(address)
  return skynet.call(address_of(address), "debug", "TASK")
end

function commands.ping(address)
  local t0 = skynet.now()
  skynet.call(address_of(address), "debug", "PING")
  return tostring(skynet.now() - t0)
end

function commands.inject(address, filename, ...)
  local target = address_of(address)
  local f = io.open(assert(filename, "need a file name"), "rb")
  if not f then return "Can't open " .. filename end
  local source = f:read "a"
  f:close()
  local ok, out = skynet.call(target, "debug", "RUN", source, filename, ...)
  if ok == false then error(out) end
  return out
end

function commands.logon(address)
  core.command("LOGON", skynet.address(address_of(address)))
end

function commands.logoff(address)
  core.command("LOGOFF", skynet.address(address_of(address)))
end

function commands.signal(address, sig)
  local target = skynet.address(address_of(address))
  core.command("SIGNAL", sig and (target .. " " .. sig) or target)
end

function commands.cmem()
  local memory = require "skynet.memory"
  local result = {}
  for handle, bytes in pairs(memory.info()) do result[skynet.address(handle)] = bytes end
  result.total = memory.total()
  result.block = memory.block()
  return result
end

local function human_bytes(n)
  if not n or n == 0 then return nil end
  if n < 1024 then return n end
  if n < 1024 * 1024 then return tostring(n / 1024) .. "K" end
  return tostring(n / (1024 * 1024)) .. "M"
end

local function age(t)
  if not t then return nil end
  local cs = skynet.now() - t
  if cs < 6000 then return tostring(cs / 100) .. "s" end
  local hours, minutes = cs // 360000, (cs // 6000) % 60
  return string.format("%s%d:%.2gs", hours > 0 and (hours .. ":") or "", minutes, (cs % 6000) / 100)
end

function commands.netstat()
  local list = socket.netstat()
  for _, s in ipairs(list) do
    s.address = s.address and tostring(s.address)
    s.read, s.write, s.wbuffer = human_bytes(s.read), human_bytes(s.write), human_bytes(s.wbuffer)
    s.rtime, s.wtime = age(s.rtime), age(s.wtime)
  end
  return list
end

-- call address args...: the arguments are Lua expressions, evaluated with no globals.
function raw_commands.call(words, line)
  local target = address_of(words[2])
  local rest = assert(line:match("^%s*%S+%s+%S+%s+(.+)$"), "need arguments")
  local f = assert(load("return " .. rest, "debug console", "t", {}))
  local values = table.pack(f())
  return table.pack(skynet.call(target, "lua", table.unpack(values, 1, values.n)))
end
