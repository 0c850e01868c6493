// skynet.netpack: cuts socket traffic into packets with a 2-byte big-endian
// length header, for lualib/snax/gateserver.lua (skynet's lua-netpack API, our
// own implementation on tern::net::length_framer).
//
//   netpack.filter(queue, msg, sz) -> queue, then one of
//     "data", fd, msg, sz     one complete packet (msg: lightuserdata, ours to free)
//     "more"                  several complete packets are in queue: pop them
//     "open", fd, addr        a connection was accepted
//     "close", fd
//     "error", fd, text       the socket failed, or a packet was too large
//     "warning", fd, size     KiB waiting to be written (0: drained)
//     "init", fd, text, ud    a CONNECT message (skynet's newer netpack)
//     (nothing)               no complete packet yet / a message to ignore
//   netpack.pop(queue) -> fd, msg, sz          or nothing when empty
//   netpack.pack(str | msg, sz) -> msg, sz     with the 2-byte header (msg not freed)
//   netpack.tostring(msg, sz) -> string        and frees msg (as skynet does)
//   netpack.clear(queue)                       frees partial and queued packets
//   netpack.max([n]) -> limit (tern)           the largest packet accepted
//
// The queue is a full userdata made on the first DATA message (filter returns
// it; the caller passes it back). Partial packets are kept per socket id until
// they complete or the socket closes. A length above netpack.max() (default
// 65535, the most two bytes can say) makes filter return "error", fd, text:
// the packets of that read are dropped, and so is every later DATA message of
// that id until its "close"/"error" arrives; the caller should close it
// (gateserver does). The queue's __gc frees whatever it still holds.
//
// Threading: a Lua module; everything runs on the service's worker. It calls no
// runtime function, only tern::mem_alloc/mem_free, so the fuzzer can load it
// into a bare Lua state.
#include <cstring>
#include <deque>
#include <new>
#include <unordered_map>
#include <unordered_set>

#include "lua/snlua.hpp"
#include "net/length_framer.hpp"
#include "tern/core/types.hpp"
#include "tern/module_socket.h"

namespace tern::lua {
namespace {

constexpr const char* kQueueMeta = "skynet.netpack.queue";

// Upvalues of filter (and max: only kSettings).
enum upvalue { kData = 1, kMore, kError, kOpen, kClose, kWarning, kInit, kSettings };

struct packet {
  int fd;
  char* data;
  uint32_t size;
};

struct queue {
  std::deque<packet> ready;
  std::unordered_map<int, net::length_framer> partial;  // only ids with a partial packet
  std::unordered_set<int> rejected;  // ids whose data is dropped until they close

  ~queue() { clear(); }
  void clear() {
    for (packet& p : ready) mem_free(p.data);
    ready.clear();
    partial.clear();
    rejected.clear();
  }
  void forget(int fd) {
    partial.erase(fd);
    rejected.erase(fd);
  }
};

// The userdata holds a pointer, so __gc can leave a dead (null) queue behind
// that later calls (a finalizer that clears it, say) treat as empty.
struct queue_box {
  queue* q;
};

struct settings {
  net::framing framing;  // header 2 bytes; max_packet settable
};

queue* check_queue(lua_State* L, int index) {
  if (lua_isnoneornil(L, index)) return nullptr;
  return static_cast<queue_box*>(luaL_checkudata(L, index, kQueueMeta))->q;
}

int queue_gc(lua_State* L) {
  auto* box = static_cast<queue_box*>(luaL_checkudata(L, 1, kQueueMeta));
  delete box->q;
  box->q = nullptr;
  return 0;
}

// The queue at index 1, made (and put at index 1) if there is none.
queue* get_queue(lua_State* L) {
  queue_box* box = nullptr;
  if (!lua_isnil(L, 1)) box = static_cast<queue_box*>(luaL_checkudata(L, 1, kQueueMeta));
  if (!box) {
    box = static_cast<queue_box*>(lua_newuserdatauv(L, sizeof(queue_box), 0));
    box->q = nullptr;
    luaL_setmetatable(L, kQueueMeta);
    lua_replace(L, 1);
  }
  if (!box->q) box->q = new (std::nothrow) queue;
  if (!box->q) luaL_error(L, "netpack: not enough memory");
  return box->q;
}

struct data_result {
  enum { none, one, more, oversize, no_memory } kind = none;
  packet first{};
  uint64_t length = 0;  // oversize: the length read
};

// Feeds one DATA buffer (taken over) for fd. Complete packets go to the back
// of q.ready; a single one is taken back out and returned. No Lua calls here,
// so no longjmp can skip a destructor.
data_result feed(queue& q, const net::framing& framing, int fd, char* buffer,
                 size_t size) noexcept {
  data_result r;
  const size_t before = q.ready.size();
  auto drop_new = [&] {
    while (q.ready.size() > before) {
      mem_free(q.ready.back().data);
      q.ready.pop_back();
    }
  };
  try {
    auto it = q.partial.find(fd);
    net::length_framer local;
    net::length_framer& framer = it != q.partial.end() ? it->second : local;
    auto emit = [&](char* p, uint32_t n) {
      try {
        q.ready.push_back(packet{fd, p, n});
      } catch (...) {
        mem_free(p);
        throw;
      }
    };
    auto status = framer.feed(framing, buffer, size, emit, &r.length);  // owns buffer now
    if (status == net::length_framer::result::oversize) {
      drop_new();
      if (it != q.partial.end()) q.partial.erase(it);
      r.kind = data_result::oversize;
      q.rejected.insert(fd);
      return r;
    }
    if (it != q.partial.end()) {
      if (framer.idle()) q.partial.erase(it);
    } else if (!local.idle()) {
      q.partial.emplace(fd, std::move(local));
    }
  } catch (...) {  // std::bad_alloc
    drop_new();
    q.partial.erase(fd);
    r.kind = data_result::no_memory;
    return r;
  }
  size_t added = q.ready.size() - before;
  if (added == 1) {
    r.first = q.ready.back();
    q.ready.pop_back();
    r.kind = data_result::one;
  } else if (added > 1) {
    r.kind = data_result::more;
  }
  return r;
}

int filter_data(lua_State* L, int fd, char* buffer, int size) {
  if (!buffer) return 1;
  queue* q = get_queue(L);  // raises only when out of memory (buffer lost, as in skynet)
  if (q->rejected.count(fd)) {
    mem_free(buffer);
    return 1;
  }
  auto* s = static_cast<settings*>(lua_touserdata(L, lua_upvalueindex(kSettings)));
  data_result r = feed(*q, s->framing, fd, buffer, size < 0 ? 0 : size_t(size));
  switch (r.kind) {
    case data_result::none:
      return 1;
    case data_result::one:
      lua_pushvalue(L, lua_upvalueindex(kData));
      lua_pushinteger(L, fd);
      lua_pushlightuserdata(L, r.first.data);
      lua_pushinteger(L, r.first.size);
      return 5;
    case data_result::more:
      lua_pushvalue(L, lua_upvalueindex(kMore));
      return 2;
    case data_result::oversize:
      lua_pushvalue(L, lua_upvalueindex(kError));
      lua_pushinteger(L, fd);
      lua_pushfstring(L, "packet of %I bytes is larger than the limit of %I (netpack.max)",
                      lua_Integer(r.length), lua_Integer(s->framing.max_packet));
      return 4;
    case data_result::no_memory:
      break;
  }
  return luaL_error(L, "netpack: not enough memory");
}

int lfilter(lua_State* L) {
  const auto* m = static_cast<const tern_socket_message*>(lua_touserdata(L, 2));
  lua_Integer sz = luaL_checkinteger(L, 3);
  if (!m || sz < lua_Integer(sizeof *m)) return luaL_argerror(L, 2, "not a socket message");
  check_queue(L, 1);
  lua_settop(L, 1);
  // Text (ACCEPT address, ERROR reason, CONNECT address) follows the struct.
  const char* text = reinterpret_cast<const char*>(m + 1);
  size_t text_size = m->buffer ? 0 : size_t(sz) - sizeof *m;
  switch (m->type) {
    case TERN_SOCKET_TYPE_DATA:
      return filter_data(L, m->id, m->buffer, m->ud);
    case TERN_SOCKET_TYPE_CONNECT:
      lua_pushvalue(L, lua_upvalueindex(kInit));
      lua_pushinteger(L, m->id);
      lua_pushlstring(L, text, text_size);
      lua_pushinteger(L, m->ud);
      return 5;
    case TERN_SOCKET_TYPE_CLOSE:
      if (queue* q = check_queue(L, 1)) q->forget(m->id);
      lua_pushvalue(L, lua_upvalueindex(kClose));
      lua_pushinteger(L, m->id);
      return 3;
    case TERN_SOCKET_TYPE_ACCEPT:
      lua_pushvalue(L, lua_upvalueindex(kOpen));
      lua_pushinteger(L, m->ud);  // the new connection; m->id is the listener
      lua_pushlstring(L, text, text_size);
      return 4;
    case TERN_SOCKET_TYPE_ERROR:
      if (queue* q = check_queue(L, 1)) q->forget(m->id);
      lua_pushvalue(L, lua_upvalueindex(kError));
      lua_pushinteger(L, m->id);
      lua_pushlstring(L, text, text_size);
      return 4;
    case TERN_SOCKET_TYPE_WARNING:
      lua_pushvalue(L, lua_upvalueindex(kWarning));
      lua_pushinteger(L, m->id);
      lua_pushinteger(L, m->ud);
      return 4;
    case TERN_SOCKET_TYPE_UDP:
      mem_free(m->buffer);  // not ours to handle, but ours to free
      return 1;
    default:
      return 1;
  }
}

int lpop(lua_State* L) {
  queue* q = lua_isuserdata(L, 1) ? check_queue(L, 1) : nullptr;
  if (!q || q->ready.empty()) return 0;
  packet p = q->ready.front();
  q->ready.pop_front();
  lua_pushinteger(L, p.fd);
  lua_pushlightuserdata(L, p.data);
  lua_pushinteger(L, p.size);
  return 3;
}

// The bytes at index: a string, or a (light or full) userdata and a size.
const char* bytes_at(lua_State* L, int index, size_t* size) {
  if (lua_isuserdata(L, index)) {
    const char* p = static_cast<const char*>(lua_touserdata(L, index));
    lua_Integer n = luaL_checkinteger(L, index + 1);
    luaL_argcheck(L, n >= 0, index + 1, "negative size");
    *size = size_t(n);
    return p;
  }
  return luaL_checklstring(L, index, size);
}

int lpack(lua_State* L) {
  size_t len;
  const char* p = bytes_at(L, 1, &len);
  if (len > 0xffff) return luaL_error(L, "Invalid size (too long) of data : %d", int(len));
  char* out = nullptr;
  try {
    out = static_cast<char*>(mem_alloc(len + 2));
  } catch (...) {
  }
  if (!out) return luaL_error(L, "netpack: not enough memory");
  out[0] = char((len >> 8) & 0xff);
  out[1] = char(len & 0xff);
  if (len) std::memcpy(out + 2, p, len);
  lua_pushlightuserdata(L, out);
  lua_pushinteger(L, lua_Integer(len + 2));
  return 2;
}

int ltostring(lua_State* L) {
  void* p = lua_touserdata(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  if (!p) {
    lua_pushliteral(L, "");
    return 1;
  }
  lua_pushlstring(L, static_cast<const char*>(p), n > 0 ? size_t(n) : 0);
  mem_free(p);
  return 1;
}

int lclear(lua_State* L) {
  if (!lua_isuserdata(L, 1)) return 0;
  if (queue* q = check_queue(L, 1)) q->clear();
  return 0;
}

int lmax(lua_State* L) {
  auto* s = static_cast<settings*>(lua_touserdata(L, lua_upvalueindex(1)));
  lua_Integer old = s->framing.max_packet;
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0 && n <= 0xffff, 1, "the limit must be 0..65535");
    s->framing.max_packet = uint32_t(n);
  }
  lua_pushinteger(L, old);
  return 1;
}

}  // namespace
}  // namespace tern::lua

extern "C" int luaopen_skynet_netpack(lua_State* L) {
  using namespace tern::lua;
  luaL_checkversion(L);
  if (luaL_newmetatable(L, kQueueMeta)) {
    lua_pushcfunction(L, queue_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);

  const luaL_Reg functions[] = {
      {"pop", lpop},           {"pack", lpack},    {"clear", lclear},
      {"tostring", ltostring}, {nullptr, nullptr},
  };
  luaL_newlib(L, functions);

  auto* s = static_cast<settings*>(lua_newuserdatauv(L, sizeof(settings), 0));
  new (s) settings{};  // trivially destructible
  // filter's upvalues, in the order of enum upvalue.
  lua_pushliteral(L, "data");
  lua_pushliteral(L, "more");
  lua_pushliteral(L, "error");
  lua_pushliteral(L, "open");
  lua_pushliteral(L, "close");
  lua_pushliteral(L, "warning");
  lua_pushliteral(L, "init");
  lua_pushvalue(L, -8);  // settings
  lua_pushcclosure(L, lfilter, 8);
  lua_setfield(L, -3, "filter");
  lua_pushcclosure(L, lmax, 1);  // settings
  lua_setfield(L, -2, "max");
  return 1;
}
