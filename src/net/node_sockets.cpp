#include "net/node_sockets.hpp"

#include <fmt/format.h>

#include <cstring>
#include <string>

#include "core/context.hpp"
#include "core/node_impl.hpp"
#include "tern/module_socket.h"

namespace tern::net {

node_sockets::node_sockets(node_impl& node)
    : node_(node), server_([this](uint32_t owner, socket_event& e) { on_event(owner, e); }) {
  server_.set_logger([this](std::string_view text) { node_.log(0, text); });
  server_.start();
}

node_sockets::~node_sockets() { server_.stop(); }

void node_sockets::on_event(uint32_t owner, socket_event& e) {
  const char* extra = e.text.data();
  size_t extra_size = e.text.size();
  if (e.type == socket_event_type::udp) {
    extra = reinterpret_cast<const char*>(e.from.bytes);
    extra_size = e.from.size;
  }
  size_t size = sizeof(tern_socket_message) + extra_size;
  auto* sm = static_cast<tern_socket_message*>(mem_alloc(size));
  sm->type = int(e.type);
  sm->id = e.id;
  sm->ud = e.ud;
  sm->buffer = e.buffer;
  if (extra_size) std::memcpy(sm + 1, extra, extra_size);
  char* bytes = e.buffer;
  e.buffer = nullptr;  // the message owns it now
  if (node_.send(nullptr, 0, owner, ptype::socket | ptype::tag_dontcopy, 0, sm, size) < 0) {
    // send freed sm; the bytes and the socket are ours to clean up.
    mem_free(bytes);
    if (e.type == socket_event_type::accept) server_.shutdown(owner, e.ud);
    if (e.type != socket_event_type::close && e.type != socket_event_type::error)
      server_.shutdown(owner, e.id);
  }
}

void free_socket_message_buffer(const message& m) {
  if (m.type != ptype::socket || m.size < sizeof(tern_socket_message)) return;
  tern_socket_message sm;
  std::memcpy(&sm, m.data(), sizeof sm);
  if (sm.buffer) mem_free(sm.buffer);
}

}  // namespace tern::net

using tern::net::socket_server;

namespace {
socket_server& server_of(tern_context* ctx) { return ctx->node->sockets().server(); }
}  // namespace

extern "C" {

int tern_socket_listen(tern_context* ctx, const char* host, int port, int backlog) {
  std::string error;
  int id = server_of(ctx).listen(ctx->handle, host ? host : "", port, backlog, &error);
  if (id < 0) tern_error(ctx, "listen %s:%d failed: %s", host ? host : "", port, error.c_str());
  return id;
}

int tern_socket_connect(tern_context* ctx, const char* host, int port) {
  return server_of(ctx).connect(ctx->handle, host ? host : "", port);
}

int tern_socket_bind(tern_context* ctx, int fd) { return server_of(ctx).bind(ctx->handle, fd); }
void tern_socket_start(tern_context* ctx, int id) { server_of(ctx).start(ctx->handle, id); }
void tern_socket_pause(tern_context* ctx, int id) { server_of(ctx).pause(ctx->handle, id); }
void tern_socket_close(tern_context* ctx, int id) { server_of(ctx).close(ctx->handle, id); }
void tern_socket_shutdown(tern_context* ctx, int id) { server_of(ctx).shutdown(ctx->handle, id); }
void tern_socket_nodelay(tern_context* ctx, int id) { server_of(ctx).nodelay(id); }

int tern_socket_send(tern_context* ctx, int id, void* buffer, size_t sz) {
  return server_of(ctx).send(id, buffer, sz);
}

int tern_socket_send_lowpriority(tern_context* ctx, int id, void* buffer, size_t sz) {
  return server_of(ctx).send_low(id, buffer, sz);
}

int tern_socket_udp(tern_context* ctx, const char* host, int port) {
  std::string error;
  int id = server_of(ctx).udp(ctx->handle, host ? host : "", port, &error);
  if (id < 0) tern_error(ctx, "udp %s:%d failed: %s", host ? host : "", port, error.c_str());
  return id;
}

int tern_socket_udp_connect(tern_context* ctx, int id, const char* host, int port) {
  std::string error;
  int r = server_of(ctx).udp_connect(id, host ? host : "", port, &error);
  if (r < 0) tern_error(ctx, "udp connect %s:%d failed: %s", host ? host : "", port, error.c_str());
  return r;
}

int tern_socket_udp_send(tern_context* ctx, int id, const char* address, size_t address_sz,
                         void* buffer, size_t sz) {
  tern::net::udp_address to;
  if (!address || address_sz > sizeof to.bytes) {
    tern::mem_free(buffer);
    return -1;
  }
  std::memcpy(to.bytes, address, address_sz);
  to.size = uint8_t(address_sz);
  return server_of(ctx).udp_sendto(id, to, buffer, sz);
}

const char* tern_socket_udp_address(const tern_socket_message* msg, size_t sz, size_t* address_sz) {
  if (!msg || msg->type != TERN_SOCKET_TYPE_UDP || sz <= sizeof *msg) return nullptr;
  if (address_sz) *address_sz = sz - sizeof *msg;
  return reinterpret_cast<const char*>(msg + 1);
}

}  // extern "C"
