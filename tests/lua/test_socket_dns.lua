-- Name resolution without network: skynet.dns answers localhost from
-- /etc/hosts (or its built-in loopback), numeric addresses as they are,
-- rejects malformed names, and queries a nameserver over UDP (here a fake one,
-- a UDP socket of this service) with the answer cached; socket.resolve
-- (socketdriver.resolve) resolves localhost too.
local skynet = require "skynet"
local socket = require "skynet.socket"
local dns = require "skynet.dns"
local t = require "testlib"

-- A nameserver that answers every A query with 10.1.2.3 (TTL 60).
local function fake_nameserver()
  local fd
  fd = socket.udp(function(q, from)
    local id = string.unpack(">I2", q)
    local question = q:sub(13)
    local answer = string.pack(">I2I2I2I2I2I2", id, 0x8180, 1, 1, 0, 0) .. question
      .. string.pack(">I2I2I2I4s2", 0xc00c, 1, 1, 60, string.char(10, 1, 2, 3))
    socket.sendto(fd, from, answer)
  end, "127.0.0.1", 0)
  for _, row in ipairs(socket.netstat()) do
    if row.id == fd then return fd, tonumber(row.peer:match(":(%d+)$")) end
  end
end

t.run("test_socket_dns", function()
  local ip, all = dns.resolve("localhost")
  t.eq(ip, "127.0.0.1", "dns localhost")
  t.check(type(all) == "table" and all[1] == "127.0.0.1", "dns address list")
  t.eq(dns.resolve("LocalHost"), "127.0.0.1", "names are case-insensitive")
  t.eq(dns.resolve("localhost", true), "::1", "dns localhost ipv6")
  t.eq(dns.resolve("10.0.0.7"), "10.0.0.7", "numeric address")
  local bad, why = dns.resolve("bad name!")
  t.eq(bad, nil, "malformed name")
  t.eq(why, "illegal name", "malformed name reason")

  local list = socket.resolve("localhost")
  t.check(type(list) == "table" and #list >= 1, "socket.resolve localhost")
  local found = false
  for _, a in ipairs(list) do found = found or a == "127.0.0.1" end
  t.check(found, "socket.resolve gives 127.0.0.1")
  t.eq(socket.resolve("127.0.0.1")[1], "127.0.0.1", "socket.resolve numeric")

  local fd, port = fake_nameserver()
  dns.server("127.0.0.1", port)
  local fip, flist = dns.resolve("example.test")
  t.eq(fip, "10.1.2.3", "answer from the nameserver")
  t.eq(#flist, 1, "one address")
  t.eq(dns.resolve("example.test"), "10.1.2.3", "cached answer")
  socket.close(fd)
end)
