/* Sockets for services (skynet's skynet_socket.h, our own words).
 *
 * Every call is made from inside a service (ctx) and is non-blocking: results
 * and traffic come back to the owning service as messages of type
 * TERN_PTYPE_SOCKET whose data is a tern_socket_message. The runtime frees the
 * message after the callback; `buffer` (DATA and UDP) belongs to the service,
 * which frees it with tern_free (or keeps it).
 *
 * Ids are >= 0 and tagged, so an id of a closed socket never reaches a socket
 * that later reuses its slot. -1 means the call failed at once.
 */
#ifndef TERN_MODULE_SOCKET_H
#define TERN_MODULE_SOCKET_H

#include <stddef.h>
#include <stdint.h>

#include "tern/module_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tern_socket_message.type (skynet's SKYNET_SOCKET_TYPE_* numbers). */
#define TERN_SOCKET_TYPE_DATA 1    /* ud = size, buffer = the bytes */
#define TERN_SOCKET_TYPE_CONNECT 2 /* text after the struct: peer address, or "start" */
#define TERN_SOCKET_TYPE_CLOSE 3
#define TERN_SOCKET_TYPE_ACCEPT 4  /* ud = new socket id, text = peer "ip:port" */
#define TERN_SOCKET_TYPE_ERROR 5   /* text = reason; the socket is closed */
#define TERN_SOCKET_TYPE_UDP 6     /* ud = size, buffer = bytes, sender address after the struct */
#define TERN_SOCKET_TYPE_WARNING 7 /* ud = KiB queued for writing (0: drained) */

/* The message data. When buffer is NULL, the bytes after the struct (message
 * size - sizeof) are text (CONNECT, ACCEPT, ERROR); for UDP they are the
 * sender's address in compact form (see tern_socket_udp_address). */
struct tern_socket_message {
  int type;
  int id;
  int ud;
  char* buffer;
};

int tern_socket_listen(tern_context* ctx, const char* host, int port, int backlog);
int tern_socket_connect(tern_context* ctx, const char* host, int port);
int tern_socket_bind(tern_context* ctx, int fd);
void tern_socket_start(tern_context* ctx, int id);  /* accept / read; ctx becomes the owner */
void tern_socket_pause(tern_context* ctx, int id);
void tern_socket_close(tern_context* ctx, int id);     /* after queued bytes are written */
void tern_socket_shutdown(tern_context* ctx, int id);  /* now; queued bytes are dropped */
void tern_socket_nodelay(tern_context* ctx, int id);
/* Take ownership of buffer (tern_malloc). 0, or -1 if id is not a live socket. */
int tern_socket_send(tern_context* ctx, int id, void* buffer, size_t sz);
int tern_socket_send_lowpriority(tern_context* ctx, int id, void* buffer, size_t sz);

int tern_socket_udp(tern_context* ctx, const char* host, int port);
int tern_socket_udp_connect(tern_context* ctx, int id, const char* host, int port);
/* address: compact form as returned by tern_socket_udp_address. */
int tern_socket_udp_send(tern_context* ctx, int id, const char* address, size_t address_sz,
                         void* buffer, size_t sz);
/* The sender of a UDP message (msg, sz as received), or NULL. */
const char* tern_socket_udp_address(const struct tern_socket_message* msg, size_t sz,
                                    size_t* address_sz);

#ifdef __cplusplus
}
#endif

#endif
