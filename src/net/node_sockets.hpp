// node_sockets: a node's socket thread and its bridge to services (skynet's
// skynet_socket.c). Each socket event becomes a TERN_PTYPE_SOCKET message to
// the socket's owner (include/tern/module_socket.h has the layout); DATA and
// UDP bytes are handed over, not copied. An event whose owner is gone closes
// the socket, so a dead service leaks no descriptor.
//
// Threading: made on first use by node_impl::sockets() (thread-safe); the
// socket_server's methods are thread-safe; on_event runs on the socket thread.
#pragma once

#include "net/socket_server.hpp"
#include "tern/core/types.hpp"

namespace tern {

class node_impl;

namespace net {

class node_sockets {
 public:
  explicit node_sockets(node_impl& node);
  ~node_sockets();
  node_sockets(const node_sockets&) = delete;
  node_sockets& operator=(const node_sockets&) = delete;

  socket_server& server() { return server_; }
  void stop() { server_.stop(); }

 private:
  void on_event(uint32_t owner, socket_event& event);

  node_impl& node_;
  socket_server server_;
};

// A socket message's DATA/UDP buffer, freed with the message when nobody
// received it (node_impl::drop).
void free_socket_message_buffer(const message& m);

}  // namespace net
}  // namespace tern
