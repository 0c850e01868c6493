-- Connects to the port it is given, reads 1 of the `total` bytes the peer
-- sends, waits until the rest has arrived (unread, in its buffer), and exits
-- with the socket open: its state's collector must close the socket and free
-- the buffered bytes.
-- (It waits for every byte so that no DATA reaches it once dead: such a
-- DATA hits a use-after-free in node_sockets::on_event, which reads
-- sm->buffer after node_impl::send freed sm; reported, not ours to fix.)
local skynet = require "skynet"
local socket = require "skynet.socket"

skynet.start(function()
  skynet.dispatch("lua", function(_, _, port, total)
    local id = assert(socket.open("127.0.0.1", port))
    local first = socket.read(id, 1)
    for _ = 1, 500 do
      local read = 0
      for _, row in ipairs(socket.netstat()) do
        if row.id == id then read = row.read end
      end
      if read >= total then break end
      skynet.sleep(1)
    end
    skynet.sleep(1)  -- the last DATA messages are handled
    skynet.retpack(first)
    skynet.exit()
  end)
end)
