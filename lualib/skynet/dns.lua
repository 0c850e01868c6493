-- skynet.dns: name resolution that never blocks the node (skynet's API, our
-- own implementation).
--
--   dns.server([ip [, port]])   -- the nameserver (default: /etc/resolv.conf's first)
--   dns.resolve(name [, ipv6])  -- -> first address, { all addresses }
--   dns.flush()                 -- forget cached answers
--
-- Numeric addresses come back as they are, /etc/hosts answers next
-- ("localhost" always resolves, even without a hosts entry), then a UDP query
-- to the nameserver, whose answers are cached for their TTL. resolve raises an
-- error on timeout or when the server has no address for the name; it returns
-- nil, reason for a malformed name.
local skynet = require "skynet"
local socket = require "skynet.socket"

local string_pack, string_unpack, string_format = string.pack, string.unpack, string.format

local dns = {}
dns.DEFAULT_HOSTS = "/etc/hosts"
dns.DEFAULT_RESOLV_CONF = "/etc/resolv.conf"

local TIMEOUT = 30 * 100       -- a query without an answer fails after 30 s
local SERVER_IDLE = 60 * 100   -- the UDP socket closes after a minute without queries
local TYPE_A, TYPE_AAAA = 1, 28
local CLASS_IN = 1

local cache = {}      -- qtype -> name -> { answers = {...}, expires = skynet.now() }
local hosts = nil     -- name -> { ipv4 = {...}, ipv6 = {...} }, parsed on first use
local pending = {}    -- query id -> { co, name, qtype, answers }
local server = { address = nil, port = 53, fd = nil, last_used = 0 }
local next_id = 1

function dns.flush()
  cache[TYPE_A] = {}
  cache[TYPE_AAAA] = {}
end
dns.flush()

local function name_kind(name)
  if name:match("^[%d%.]+$") then return "ipv4" end
  if name:find(":", 1, true) then return "ipv6" end
  return "hostname"
end

local function read_hosts()
  local t = {}
  local f = dns.DEFAULT_HOSTS and io.open(dns.DEFAULT_HOSTS)
  if f then
    for line in f:lines() do
      line = line:gsub("#.*", "")
      local ip, names = line:match("^%s*([%x%.:%[%]]+)%s+(.+)$")
      local kind = ip and name_kind(ip)
      if kind and kind ~= "hostname" then
        for host in names:gmatch("%S+") do
          host = host:lower()
          local entry = t[host] or {}
          t[host] = entry
          entry[kind] = entry[kind] or {}
          table.insert(entry[kind], ip)
        end
      end
    end
    f:close()
  end
  -- RFC 6761: localhost is always the loopback.
  local lo = t.localhost or {}
  t.localhost = lo
  lo.ipv4 = lo.ipv4 or { "127.0.0.1" }
  lo.ipv6 = lo.ipv6 or { "::1" }
  return t
end

local function read_resolv_conf()
  local f = dns.DEFAULT_RESOLV_CONF and io.open(dns.DEFAULT_RESOLV_CONF)
  if not f then return end
  local found
  for line in f:lines() do
    found = line:match("^%s*nameserver%s+([^%s#;]+)")
    if found then break end
  end
  f:close()
  return found
end

local function valid_name(name)
  if #name > 253 or not name:match("^[_%l%d%-%.]+$") then return false end
  for label in name:gmatch("[^%.]+") do
    if #label > 63 then return false end
  end
  return true
end

-- Packets ---------------------------------------------------------------------

local function encode_query(id, name, qtype)
  local parts = { string_pack(">I2I2I2I2I2I2", id, 0x0100, 1, 0, 0, 0) }  -- RD set, one question
  for label in name:gmatch("[^%.]+") do
    parts[#parts + 1] = string_pack("s1", label)
  end
  parts[#parts + 1] = string_pack(">BI2I2", 0, qtype, CLASS_IN)
  return table.concat(parts)
end

-- A (possibly compressed) name at pos -> name, position after it.
local function decode_name(packet, pos)
  local labels, after = {}, nil
  for _ = 1, 128 do  -- bounded: a pointer loop must not hang us
    local len = string_unpack("B", packet, pos)
    if len == 0 then
      return table.concat(labels, "."), after or pos + 1
    elseif len >= 0xc0 then
      local ptr = string_unpack(">I2", packet, pos) & 0x3fff
      after = after or pos + 2
      pos = ptr + 1
    else
      labels[#labels + 1] = packet:sub(pos + 1, pos + len)
      pos = pos + 1 + len
    end
  end
  error("dns: bad name in answer")
end

local function format_address(qtype, rdata)
  if qtype == TYPE_A and #rdata == 4 then
    return string_format("%d.%d.%d.%d", rdata:byte(1, 4))
  elseif qtype == TYPE_AAAA and #rdata == 16 then
    return string_format("%x:%x:%x:%x:%x:%x:%x:%x", string_unpack(">I2I2I2I2I2I2I2I2", rdata))
  end
end

-- A reply: caches its addresses and wakes the query waiting for it.
local function on_reply(packet)
  if #packet < 12 then return end
  local id, flags, qdcount, ancount = string_unpack(">I2I2I2I2", packet)
  local req = pending[id]
  if not req or qdcount ~= 1 then return end
  local pos = 13
  local qname
  qname, pos = decode_name(packet, pos)
  pos = pos + 4  -- qtype, qclass
  if qname:lower() ~= req.name then return end  -- not ours (a late or forged reply)
  local found = { [TYPE_A] = {}, [TYPE_AAAA] = {} }
  local ttl
  for _ = 1, ancount do
    local _, atype, aclass, attl, rdata
    _, pos = decode_name(packet, pos)
    atype, aclass, attl, rdata, pos = string_unpack(">I2I2I4s2", packet, pos)
    local addr = aclass == CLASS_IN and format_address(atype, rdata)
    if addr then
      table.insert(found[atype], addr)
      ttl = ttl and math.min(ttl, attl) or attl
    end
  end
  for qtype, list in pairs(found) do
    if #list > 0 then
      cache[qtype][req.name] = { answers = list, expires = skynet.now() + ttl * 100 }
    end
  end
  local answers = found[req.qtype]
  req.answers = #answers > 0 and answers or nil
  req.rcode = flags & 0xf
  pending[id] = nil
  skynet.wakeup(req.co)
end

-- The nameserver socket -------------------------------------------------------

local function open_server()
  server.last_used = skynet.now()
  if server.fd then return end
  if not server.address then
    server.address = read_resolv_conf()
    server.port = 53
  end
  if not server.address then error("dns: no nameserver (call dns.server first)") end
  local fd = socket.udp(function(packet)
    local ok, err = pcall(on_reply, packet)
    if not ok then skynet.error("dns: bad reply: " .. tostring(err)) end
  end)
  local ok, err = pcall(socket.udp_connect, fd, server.address, server.port)
  if not ok then
    socket.close(fd)
    error(err)
  end
  server.fd = fd
  local function retire()
    if server.fd ~= fd then return end
    if next(pending) == nil and skynet.now() - server.last_used >= SERVER_IDLE then
      server.fd = nil
      socket.close(fd)
    else
      skynet.timeout(SERVER_IDLE, retire)
    end
  end
  skynet.timeout(SERVER_IDLE, retire)
end

function dns.server(address, port)
  if server.fd then
    local fd = server.fd
    server.fd = nil
    socket.close(fd)
  end
  server.address = address
  server.port = port or 53
end

local function new_id()
  for _ = 1, 65535 do
    local id = next_id
    next_id = next_id % 65535 + 1
    if not pending[id] then return id end
  end
  error("dns: too many queries in flight")
end

local function query(name, qtype)
  local cached = cache[qtype][name]
  if cached and cached.expires > skynet.now() then
    return cached.answers[1], cached.answers
  end
  open_server()
  local id = new_id()
  local req = { co = coroutine.running(), name = name, qtype = qtype }
  pending[id] = req
  skynet.timeout(TIMEOUT, function()
    if pending[id] == req then
      pending[id] = nil
      skynet.error(string_format("DNS query %s timeout", name))
      skynet.wakeup(req.co)
    end
  end)
  socket.write(server.fd, encode_query(id, name, qtype))
  skynet.wait(req.co)
  local answers = req.answers
  if not answers and cached then answers = cached.answers end  -- stale beats nothing
  if not answers then
    error(string_format("dns: %s: %s", name,
      req.rcode == 3 and "no such name" or req.rcode and "no address" or "timeout"))
  end
  return answers[1], answers
end

function dns.resolve(name, ipv6)
  name = name:lower()
  local kind = name_kind(name)
  if kind ~= "hostname" then
    if (ipv6 and kind == "ipv4") or (not ipv6 and kind == "ipv6") then
      return nil, "illegal ip address"
    end
    return name, { name }
  end
  if not valid_name(name) then return nil, "illegal name" end
  hosts = hosts or read_hosts()
  local entry = hosts[name]
  local list = entry and entry[ipv6 and "ipv6" or "ipv4"]
  if list then return list[1], list end
  return query(name, ipv6 and TYPE_AAAA or TYPE_A)
end

return dns
