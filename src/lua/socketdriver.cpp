// skynet.socketdriver: the C side of lualib/skynet/socket.lua (skynet's
// lua-socket.c API, our own implementation on tern::net::socket_server).
//
// Two halves:
// - socket calls (connect, listen, send, udp...) made on behalf of the calling
//   service; every function has the service's tern_context as upvalue 1;
// - read buffers: a DATA message's bytes (tern::mem_alloc, owned by the
//   service) are queued as they are, and copied into a Lua string only when
//   read. A buffer is a full userdata whose __gc frees what is still queued.
//   skynet passes a second "pool" table to push/pop/readall/clear; ours needs
//   none, so that argument is accepted and ignored, except by readline, where
//   a non-table (nil) still means "only check for a line".
//
// Threading: everything runs on the worker running the service.
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/context.hpp"
#include "core/node_impl.hpp"
#include "lua/snlua.hpp"
#include "net/node_sockets.hpp"
#include "tern/core/types.hpp"
#include "tern/module_socket.h"

namespace tern::lua {
namespace {

using net::socket_server;

constexpr int kDefaultBacklog = 32;  // skynet's default
constexpr const char* kBufferMeta = "tern.socketbuffer";

tern_context* context_of(lua_State* L) {
  auto* ctx = static_cast<tern_context*>(lua_touserdata(L, lua_upvalueindex(1)));
  if (!ctx) luaL_error(L, "skynet.socketdriver: no service context");
  return ctx;
}

socket_server& server_of(tern_context* ctx) { return ctx->node->sockets().server(); }

// --- addresses -------------------------------------------------------------
//
// Lua errors longjmp (Lua is built as C): no C++ object with a destructor may
// be alive when one is raised. Hence fixed buffers here, and the socket calls
// below that fail push their message first and raise once their strings are
// gone (raise_pushed).

// A host and a port: (host, port) when the port argument is given, else one
// "host:port" or "[v6]:port" string, as skynet accepts.
struct endpoint {
  char host[256];
  int port;
};

endpoint get_endpoint(lua_State* L, int host_index, bool host_optional = false) {
  endpoint e{};
  int port_index = host_index + 1;
  if (host_optional && lua_isnoneornil(L, host_index)) {
    e.port = int(luaL_optinteger(L, port_index, 0));
    return e;
  }
  size_t n;
  const char* addr = luaL_checklstring(L, host_index, &n);
  const char* host = addr;
  size_t host_len = n;
  if (lua_isnoneornil(L, port_index)) {
    const char* colon;
    if (n > 0 && addr[0] == '[') {
      const char* close = static_cast<const char*>(std::memchr(addr, ']', n));
      if (!close || close[1] != ':') luaL_error(L, "Invalid address %s.", addr);
      host = addr + 1;
      host_len = size_t(close - host);
      colon = close + 1;
    } else {
      colon = std::strrchr(addr, ':');
      if (!colon) luaL_error(L, "Invalid address %s.", addr);
      host_len = size_t(colon - addr);
    }
    e.port = int(std::strtol(colon + 1, nullptr, 10));
  } else {
    e.port = int(luaL_checkinteger(L, port_index));
  }
  if (host_len >= sizeof e.host) luaL_error(L, "host name too long");
  std::memcpy(e.host, host, host_len);
  e.host[host_len] = '\0';
  return e;
}

// Raises the error message on top of the stack.
int raise_pushed(lua_State* L) { return lua_error(L); }

void push_message(lua_State* L, const std::string& text) {
  lua_pushlstring(L, text.data(), text.size());
}

// --- payloads ----------------------------------------------------------------

// The bytes to send at `index`, in a buffer from mem_alloc that the socket
// server takes over: a string (copied), lightuserdata + size (the pointer
// itself: ownership passes, as in skynet), a full userdata (copied: its size, or
// the one given), or a table of strings (concatenated).
struct payload {
  void* data = nullptr;
  size_t size = 0;
};

payload copy_bytes(const void* p, size_t n) {
  payload out;
  out.size = n;
  out.data = mem_alloc(n ? n : 1);
  if (n) std::memcpy(out.data, p, n);
  return out;
}

payload get_payload(lua_State* L, int index) {
  switch (lua_type(L, index)) {
    case LUA_TNUMBER:  // as its text, like luaL_checklstring
    case LUA_TSTRING: {
      size_t n;
      const char* s = lua_tolstring(L, index, &n);
      return copy_bytes(s, n);
    }
    case LUA_TLIGHTUSERDATA: {
      void* p = lua_touserdata(L, index);
      if (!lua_isinteger(L, index + 1))
        luaL_error(L,
                   "socket send: a lightuserdata needs a size (skynet's buffer objects are not "
                   "supported)");
      lua_Integer n = lua_tointeger(L, index + 1);
      if (n < 0) luaL_error(L, "socket send: negative size");
      payload out;
      out.data = p;
      out.size = size_t(n);
      return out;
    }
    case LUA_TUSERDATA: {
      void* p = lua_touserdata(L, index);
      size_t n =
          lua_isinteger(L, index + 1) ? size_t(lua_tointeger(L, index + 1)) : lua_rawlen(L, index);
      if (n > lua_rawlen(L, index)) luaL_error(L, "socket send: size larger than the userdata");
      return copy_bytes(p, n);
    }
    case LUA_TTABLE: {
      size_t total = 0;
      lua_Integer n = lua_Integer(lua_rawlen(L, index));
      for (lua_Integer i = 1; i <= n; ++i) {
        lua_rawgeti(L, index, i);
        size_t len;
        if (!lua_tolstring(L, -1, &len))
          luaL_error(L, "socket send: item %d of the table is not a string", int(i));
        total += len;
        lua_pop(L, 1);
      }
      payload out;
      out.size = total;
      auto* p = static_cast<char*>(mem_alloc(total ? total : 1));
      out.data = p;
      for (lua_Integer i = 1; i <= n; ++i) {
        lua_rawgeti(L, index, i);
        size_t len;
        const char* s = lua_tolstring(L, -1, &len);
        std::memcpy(p, s, len);
        p += len;
        lua_pop(L, 1);
      }
      return out;
    }
    default:
      luaL_error(L,
                 "socket send: string, table of strings or lightuserdata + size expected, got %s",
                 luaL_typename(L, index));
      return {};
  }
}

// --- socket calls ------------------------------------------------------------

// connect(host, port) or connect("host:port") -> id (-1: failed at once).
int lconnect(lua_State* L) {
  tern_context* ctx = context_of(L);
  endpoint e = get_endpoint(L, 1);
  if (e.port <= 0 || e.port > 65535) return luaL_error(L, "Invalid port");
  lua_pushinteger(L, server_of(ctx).connect(ctx->handle, e.host, e.port));
  return 1;
}

// listen(host, port [, backlog]) -> id, host, bound port. Raises on failure.
int llisten(lua_State* L) {
  tern_context* ctx = context_of(L);
  endpoint e = get_endpoint(L, 1);
  int backlog = int(luaL_optinteger(L, 3, kDefaultBacklog));
  int bound = 0;
  int id;
  {
    std::string error;
    id = server_of(ctx).listen(ctx->handle, e.host, e.port, backlog, &error, &bound);
    if (id < 0) push_message(L, error);
  }
  if (id < 0) return raise_pushed(L);
  lua_pushinteger(L, id);
  lua_pushstring(L, e.host[0] ? e.host : "0.0.0.0");
  lua_pushinteger(L, bound);
  return 3;
}

int lbind(lua_State* L) {
  tern_context* ctx = context_of(L);
  lua_pushinteger(L, server_of(ctx).bind(ctx->handle, int(luaL_checkinteger(L, 1))));
  return 1;
}

template <void (socket_server::*Op)(uint32_t, int)>
int owner_op(lua_State* L) {
  tern_context* ctx = context_of(L);
  (server_of(ctx).*Op)(ctx->handle, int(luaL_checkinteger(L, 1)));
  return 0;
}

int lnodelay(lua_State* L) {
  tern_context* ctx = context_of(L);
  server_of(ctx).nodelay(int(luaL_checkinteger(L, 1)));
  return 0;
}

template <bool Low>
int lsend(lua_State* L) {
  tern_context* ctx = context_of(L);
  int id = int(luaL_checkinteger(L, 1));
  payload p = get_payload(L, 2);
  socket_server& s = server_of(ctx);
  int r = Low ? s.send_low(id, p.data, p.size) : s.send(id, p.data, p.size);
  lua_pushboolean(L, r == 0);
  return 1;
}

// udp([host, port]) -> id, bound port. No host: an unbound IPv4 socket.
int ludp(lua_State* L) {
  tern_context* ctx = context_of(L);
  endpoint e = get_endpoint(L, 1, true);
  int bound = 0;
  int id;
  {
    std::string error;
    id = server_of(ctx).udp(ctx->handle, e.host, e.port, &error, &bound);
    if (id < 0) push_message(L, error);
  }
  if (id < 0) return raise_pushed(L);
  lua_pushinteger(L, id);
  lua_pushinteger(L, bound);
  return 2;
}

// udp_listen(host, port): a UDP socket bound there -> id, bound port.
int ludp_listen(lua_State* L) {
  tern_context* ctx = context_of(L);
  endpoint e = get_endpoint(L, 1);
  int bound = 0;
  int id;
  {
    std::string error;
    id = server_of(ctx).udp(ctx->handle, e.host[0] ? e.host : "0.0.0.0", e.port, &error, &bound);
    if (id < 0) push_message(L, error);
  }
  if (id < 0) return raise_pushed(L);
  lua_pushinteger(L, id);
  lua_pushinteger(L, bound);
  return 2;
}

int ludp_connect(lua_State* L) {
  tern_context* ctx = context_of(L);
  int id = int(luaL_checkinteger(L, 1));
  endpoint e = get_endpoint(L, 2);
  bool failed;
  {
    std::string error;
    failed = server_of(ctx).udp_connect(id, e.host, e.port, &error) != 0;
    if (failed) push_message(L, error);
  }
  if (failed) return raise_pushed(L);
  return 0;
}

// udp_dial(host, port): a new UDP socket whose default peer is host:port -> id.
int ludp_dial(lua_State* L) {
  tern_context* ctx = context_of(L);
  endpoint e = get_endpoint(L, 1);
  socket_server& s = server_of(ctx);
  bool v6 = std::strchr(e.host, ':') != nullptr;
  int id;
  {
    std::string error;
    id = v6 ? s.udp(ctx->handle, "::", 0, &error) : s.udp(ctx->handle, "", 0, &error);
    if (id >= 0 && s.udp_connect(id, e.host, e.port, &error) != 0) {
      s.shutdown(ctx->handle, id);
      id = -1;
    }
    if (id < 0) push_message(L, error);
  }
  if (id < 0) return raise_pushed(L);
  lua_pushinteger(L, id);
  return 1;
}

// udp_send(id, address, data...) -> boolean. address: the compact form a UDP
// message carries.
int ludp_send(lua_State* L) {
  tern_context* ctx = context_of(L);
  int id = int(luaL_checkinteger(L, 1));
  size_t n;
  const char* address = luaL_checklstring(L, 2, &n);
  net::udp_address to;
  if (n != 7 && n != 19) return luaL_error(L, "Invalid udp address");
  std::memcpy(to.bytes, address, n);
  to.size = uint8_t(n);
  payload p = get_payload(L, 3);
  lua_pushboolean(L, server_of(ctx).udp_sendto(id, to, p.data, p.size) == 0);
  return 1;
}

// udp_address(address) -> "ip", port
int ludp_address(lua_State* L) {
  size_t n;
  const char* address = luaL_checklstring(L, 1, &n);
  net::udp_address a;
  if (n != 7 && n != 19) return luaL_error(L, "Invalid udp address");
  std::memcpy(a.bytes, address, n);
  a.size = uint8_t(n);
  int port = 0;
  char ip[INET6_ADDRSTRLEN] = {};
  {
    std::string text = socket_server::udp_address_to_string(a, &port);
    if (text.size() < sizeof ip) std::memcpy(ip, text.data(), text.size());
  }
  if (!ip[0]) return luaL_error(L, "Invalid udp address");
  lua_pushstring(L, ip);
  lua_pushinteger(L, port);
  return 2;
}

const char* info_type(const std::string& t) {
  if (t == "listen") return "LISTEN";
  if (t == "tcp") return "TCP";
  if (t == "udp") return "UDP";
  if (t == "bind") return "BIND";
  if (t == "halfclose") return "CLOSING";
  if (t == "connecting") return "CONNECTING";
  if (t == "paccept") return "PACCEPT";
  if (t == "plisten") return "PLISTEN";
  return "UNKNOWN";
}

// info() -> { {id=, address= owner service, type=, read=, write=, wbuffer=,
// rtime=, wtime=, reading=, writing=, peer= (sock= for a listener)}, ... }
//
// rtime/wtime are in skynet.now() units, as in skynet (absent: never).
int linfo(lua_State* L) {
  tern_context* ctx = context_of(L);
  auto rows = server_of(ctx).netstat();
  auto now = lua_Integer(tern_now(ctx));
  uint64_t mono = monotonic_cs();
  auto node_time = [&](uint64_t t) {  // a monotonic_cs() stamp on the skynet.now() clock
    lua_Integer ago = t < mono ? lua_Integer(mono - t) : 0;
    return now > ago ? now - ago : 0;
  };
  lua_createtable(L, int(rows.size()), 0);
  int n = 0;
  for (auto& r : rows) {
    lua_createtable(L, 0, 12);
    lua_pushinteger(L, r.id);
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, lua_Integer(r.owner));
    lua_setfield(L, -2, "address");
    const char* type = info_type(r.type);
    lua_pushstring(L, type);
    lua_setfield(L, -2, "type");
    bool listener = r.type == "listen" || r.type == "plisten";
    lua_pushinteger(L, lua_Integer(r.read_bytes));
    lua_setfield(L, -2, listener ? "accept" : "read");
    if (r.read_time) {
      lua_pushinteger(L, node_time(r.read_time));
      lua_setfield(L, -2, "rtime");
    }
    if (!listener) {
      lua_pushinteger(L, lua_Integer(r.write_bytes));
      lua_setfield(L, -2, "write");
      lua_pushinteger(L, lua_Integer(r.write_pending));
      lua_setfield(L, -2, "wbuffer");
      if (r.write_time) {
        lua_pushinteger(L, node_time(r.write_time));
        lua_setfield(L, -2, "wtime");
      }
      lua_pushboolean(L, r.reading);
      lua_setfield(L, -2, "reading");
      lua_pushboolean(L, r.write_pending > 0);
      lua_setfield(L, -2, "writing");
    }
    if (!r.address.empty()) {
      lua_pushstring(L, r.address.c_str());
      lua_setfield(L, -2, listener ? "sock" : "peer");
    }
    lua_rawseti(L, -2, ++n);
  }
  return 1;
}

// resolve(host) -> { "ip", ... }. getaddrinfo on the calling worker, as skynet
// does: numeric addresses and /etc/hosts names answer at once; anything else
// should go through skynet.dns, which does not block.
int lresolve(lua_State* L) {
  const char* host = luaL_checkstring(L, 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = getaddrinfo(host, nullptr, &hints, &list);
  if (rc != 0) return luaL_error(L, "resolve %s failed: %s", host, gai_strerror(rc));
  lua_newtable(L);
  int n = 0;
  for (addrinfo* p = list; p; p = p->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* a = nullptr;
    if (p->ai_family == AF_INET)
      a = &reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr;
    else if (p->ai_family == AF_INET6)
      a = &reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr;
    if (!a || !inet_ntop(p->ai_family, a, text, sizeof text)) continue;
    bool seen = false;
    for (int i = 1; i <= n && !seen; ++i) {
      lua_rawgeti(L, -1, i);
      seen = std::strcmp(lua_tostring(L, -1), text) == 0;
      lua_pop(L, 1);
    }
    if (seen) continue;
    lua_pushstring(L, text);
    lua_rawseti(L, -2, ++n);
  }
  freeaddrinfo(list);
  return 1;
}

// unpack(msg, sz) -> type, id, ud, buffer (lightuserdata) or text [, udp address]
int lunpack(lua_State* L) {
  auto* m = static_cast<const tern_socket_message*>(lua_touserdata(L, 1));
  auto sz = size_t(luaL_checkinteger(L, 2));
  if (!m || sz < sizeof *m) return luaL_error(L, "invalid socket message");
  lua_pushinteger(L, m->type);
  lua_pushinteger(L, m->id);
  lua_pushinteger(L, m->ud);
  const char* extra = reinterpret_cast<const char*>(m + 1);
  size_t extra_size = sz - sizeof *m;
  if (!m->buffer) {
    lua_pushlstring(L, extra, extra_size);
    return 4;
  }
  lua_pushlightuserdata(L, m->buffer);
  if (m->type == TERN_SOCKET_TYPE_UDP && extra_size > 0) {
    lua_pushlstring(L, extra, extra_size);
    return 5;
  }
  return 4;
}

// drop(msg, sz): frees a DATA/UDP buffer nobody wants.
int ldrop(lua_State* L) {
  mem_free(lua_touserdata(L, 1));
  return 0;
}

// str2p(s) -> lightuserdata, size: a copy that send() can take over.
int lstr2p(lua_State* L) {
  size_t n;
  const char* s = luaL_checklstring(L, 1, &n);
  payload p = copy_bytes(s, n);
  lua_pushlightuserdata(L, p.data);
  lua_pushinteger(L, lua_Integer(n));
  return 2;
}

// header(s): 1 to 4 bytes, big-endian, as an integer.
int lheader(lua_State* L) {
  size_t n;
  const auto* s = reinterpret_cast<const unsigned char*>(luaL_checklstring(L, 1, &n));
  if (n < 1 || n > 4) return luaL_error(L, "Invalid read %s", reinterpret_cast<const char*>(s));
  lua_Integer v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | s[i];
  lua_pushinteger(L, v);
  return 1;
}

// --- read buffers --------------------------------------------------------------

struct chunk {
  char* data;
  size_t size;
};

// A queue of received chunks, kept in a ring. `offset` bytes of the first
// chunk are already read; `size` counts what is left in all of them.
struct read_buffer {
  chunk* ring;
  uint32_t cap, head, count;
  size_t offset;
  size_t size;

  chunk& at(uint32_t i) { return ring[(head + i) % cap]; }
  chunk& front() { return ring[head]; }

  void drop_front() {
    mem_free(front().data);
    front().data = nullptr;
    head = (head + 1) % cap;
    --count;
    offset = 0;
  }
  // Forgets n bytes from the front (n <= size).
  void consume(size_t n) {
    size -= n;
    while (n > 0) {
      size_t avail = front().size - offset;
      if (n < avail) {
        offset += n;
        return;
      }
      n -= avail;
      drop_front();
    }
  }
  void clear() {
    while (count) drop_front();
    size = 0;
  }
  // Copies n bytes from the front into out (without consuming them).
  void peek(char* out, size_t n) {
    size_t off = offset;
    for (uint32_t i = 0; n > 0; ++i) {
      chunk& c = at(i);
      size_t take = std::min(n, c.size - off);
      std::memcpy(out, c.data + off, take);
      out += take;
      n -= take;
      off = 0;
    }
  }
};

read_buffer* check_buffer(lua_State* L, int index) {
  auto* b = static_cast<read_buffer*>(luaL_testudata(L, index, kBufferMeta));
  if (!b) luaL_error(L, "need a socket buffer (socketdriver.buffer()) at argument %d", index);
  return b;
}

void free_ring(lua_State* L, read_buffer* b) {
  if (!b->ring) return;
  void* ud;
  lua_Alloc alloc = lua_getallocf(L, &ud);
  alloc(ud, b->ring, sizeof(chunk) * b->cap, 0);
  b->ring = nullptr;
  b->cap = 0;
}

int lbuffer_gc(lua_State* L) {
  auto* b = static_cast<read_buffer*>(lua_touserdata(L, 1));
  b->clear();
  free_ring(L, b);
  return 0;
}

// buffer() -> a new, empty read buffer.
int lbuffer(lua_State* L) {
  auto* b = static_cast<read_buffer*>(lua_newuserdatauv(L, sizeof(read_buffer), 0));
  *b = read_buffer{nullptr, 0, 0, 0, 0, 0};
  if (luaL_newmetatable(L, kBufferMeta)) {
    lua_pushcfunction(L, lbuffer_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return 1;
}

// push(buffer, pool, msg, sz) -> bytes buffered. The buffer takes msg over.
int lpush(lua_State* L) {
  read_buffer* b = check_buffer(L, 1);
  void* msg = lua_touserdata(L, 3);
  if (!msg) return luaL_error(L, "need message block at argument 3");
  lua_Integer n = luaL_checkinteger(L, 4);
  if (n <= 0) {
    mem_free(msg);
    lua_pushinteger(L, lua_Integer(b->size));
    return 1;
  }
  if (b->count == b->cap) {
    uint32_t cap = b->cap ? b->cap * 2 : 8;
    void* ud;
    lua_Alloc alloc = lua_getallocf(L, &ud);
    auto* ring = static_cast<chunk*>(alloc(ud, nullptr, 0, sizeof(chunk) * cap));
    if (!ring) {
      mem_free(msg);
      return luaL_error(L, "not enough memory");
    }
    for (uint32_t i = 0; i < b->count; ++i) ring[i] = b->at(i);
    free_ring(L, b);
    b->ring = ring;
    b->cap = cap;
    b->head = 0;
  }
  b->ring[(b->head + b->count) % b->cap] = chunk{static_cast<char*>(msg), size_t(n)};
  ++b->count;
  b->size += size_t(n);
  lua_pushinteger(L, lua_Integer(b->size));
  return 1;
}

// Pushes the first n bytes as a string, then consumes n + skip bytes.
void pop_string(lua_State* L, read_buffer* b, size_t n, size_t skip) {
  if (n == 0) {
    lua_pushliteral(L, "");
  } else if (b->front().size - b->offset >= n) {
    lua_pushlstring(L, b->front().data + b->offset, n);
  } else {
    luaL_Buffer lb;
    char* out = luaL_buffinitsize(L, &lb, n);
    b->peek(out, n);
    luaL_pushresultsize(&lb, n);
  }
  b->consume(n + skip);
}

// pop(buffer, pool, sz) -> string of sz bytes or nil (not that many yet, or
// sz == 0), bytes left.
int lpop(lua_State* L) {
  read_buffer* b = check_buffer(L, 1);
  lua_Integer n = luaL_checkinteger(L, 3);
  if (n <= 0 || size_t(n) > b->size)
    lua_pushnil(L);
  else
    pop_string(L, b, size_t(n), 0);
  lua_pushinteger(L, lua_Integer(b->size));
  return 2;
}

// readall(buffer, pool) -> everything buffered ("" when empty).
int lreadall(lua_State* L) {
  read_buffer* b = check_buffer(L, 1);
  if (b->size == 0) {
    b->clear();
    lua_pushliteral(L, "");
    return 1;
  }
  pop_string(L, b, b->size, 0);
  return 1;
}

// clear(buffer, pool): frees everything buffered. A nil buffer is allowed.
int lclear(lua_State* L) {
  if (lua_isnoneornil(L, 1)) return 0;
  check_buffer(L, 1)->clear();
  return 0;
}

// Where sep first starts in the buffered bytes, or -1.
long long find_sep(read_buffer* b, const char* sep, size_t len) {
  if (b->size < len) return -1;
  size_t base = 0;  // position of chunk i's first unread byte
  for (uint32_t i = 0; i < b->count; ++i) {
    chunk& c = b->at(i);
    size_t from = i == 0 ? b->offset : 0;
    const char* p = c.data + from;
    const char* end = c.data + c.size;
    while (p < end) {
      auto* hit = static_cast<const char*>(std::memchr(p, sep[0], size_t(end - p)));
      if (!hit) break;
      size_t pos = base + size_t(hit - (c.data + from));
      if (pos + len > b->size) return -1;
      // Compare the rest of sep, possibly across chunks.
      size_t k = 1;
      uint32_t ci = i;
      size_t off = size_t(hit - c.data) + 1;
      while (k < len) {
        chunk* cc = &b->at(ci);
        if (off == cc->size) {
          ++ci;
          off = 0;
          continue;
        }
        if (cc->data[off] != sep[k]) break;
        ++off;
        ++k;
      }
      if (k == len) return (long long)pos;
      p = hit + 1;
    }
    base += c.size - from;
  }
  return -1;
}

// readline(buffer, pool, sep) -> the line without sep; with a non-table pool
// (nil) only checks -> true. Nothing when there is no complete line.
int lreadline(lua_State* L) {
  read_buffer* b = check_buffer(L, 1);
  bool check_only = !lua_istable(L, 2);
  size_t len;
  const char* sep = luaL_checklstring(L, 3, &len);
  if (len == 0) return luaL_argerror(L, 3, "empty separator");
  long long pos = find_sep(b, sep, len);
  if (pos < 0) return 0;
  if (check_only) {
    lua_pushboolean(L, 1);
  } else {
    pop_string(L, b, size_t(pos), len);
  }
  return 1;
}

}  // namespace
}  // namespace tern::lua

extern "C" int luaopen_skynet_socketdriver(lua_State* L) {
  using namespace tern::lua;
  using tern::net::socket_server;
  luaL_checkversion(L);
  const luaL_Reg functions[] = {
      // read buffers and message helpers
      {"buffer", lbuffer},
      {"push", lpush},
      {"pop", lpop},
      {"drop", ldrop},
      {"readall", lreadall},
      {"clear", lclear},
      {"readline", lreadline},
      {"str2p", lstr2p},
      {"header", lheader},
      {"unpack", lunpack},
      {"udp_address", ludp_address},
      {"resolve", lresolve},
      // socket calls
      {"info", linfo},
      {"connect", lconnect},
      {"listen", llisten},
      {"bind", lbind},
      {"start", owner_op<&socket_server::start>},
      {"pause", owner_op<&socket_server::pause>},
      {"close", owner_op<&socket_server::close>},
      {"shutdown", owner_op<&socket_server::shutdown>},
      {"nodelay", lnodelay},
      {"send", lsend<false>},
      {"lsend", lsend<true>},
      {"udp", ludp},
      {"udp_listen", ludp_listen},
      {"udp_dial", ludp_dial},
      {"udp_connect", ludp_connect},
      {"udp_send", ludp_send},
      {"sendto", ludp_send},
      {nullptr, nullptr},
  };
  luaL_newlibtable(L, functions);
  lua_getfield(L, LUA_REGISTRYINDEX, "skynet_context");
  if (!lua_touserdata(L, -1))
    return luaL_error(L, "skynet.socketdriver: init the service's context first");
  luaL_setfuncs(L, functions, 1);
  return 1;
}
